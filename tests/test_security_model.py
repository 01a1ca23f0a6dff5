"""docs/SECURITY.md maps each promise to the test that holds it: every test and source file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NAMED = re.compile(r"`([\w/]+\.py)(?:::(\w+))?`")


def test_every_test_the_security_model_names_exists() -> None:
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    named = _NAMED.findall(text)
    tests = [(file, test) for file, test in named if Path(file).name.startswith("test_")]
    assert len([t for _, t in tests if t]) >= 50
    missing = [file for file, _ in named if file.startswith("src/") and not (ROOT / file).is_file()]
    for file, test in tests:
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(file)
        elif test and not re.search(rf"^(?:async )?def {test}\(", path.read_text(), re.MULTILINE):
            missing.append(f"{file}::{test}")
    assert not missing, missing
