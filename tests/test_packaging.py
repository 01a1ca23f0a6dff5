"""The built package holds every file the service reads at run time, not only its Python modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "milestones"


def test_the_wheel_holds_every_data_file_of_the_package(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("milestones-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "src/milestones"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    data_files = [
        name.removeprefix("src/")
        for name in tracked
        if not name.endswith(".py") and not name.endswith(".md") and (ROOT / name).is_file()
    ]
    assert len(data_files) > 10
    assert [name for name in data_files if name not in inside] == []
    # The message catalogs are compiled when the package is built.
    assert any(name.endswith("/LC_MESSAGES/milestones.mo") for name in inside)


def test_the_container_runs_as_an_unprivileged_user() -> None:
    """The image's last USER is a named account, never root (uid 0): a flaw in the service is not root's."""
    users = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    assert users, "the Dockerfile names no USER, so the service would run as root"
    assert users[-1] not in {"root", "0", "0:0"}
