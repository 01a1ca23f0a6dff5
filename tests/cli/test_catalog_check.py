"""`milestones catalog check`: a good catalog's ladder, and a bad one refused in one line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from tests.cli.conftest import Command, in_a_process


def test_a_good_catalog_prints_its_ladder(milestones: Command, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        "\n".join(
            f'[[milestone]]\nkey = "{key}"\nname = "{name}"\ntype = "{kind}"\nthreshold = {threshold}\n'
            for key, name, kind, threshold in [
                ("h1000", "A thousand hours", "hours_logged", 1000),
                ("h10", "Ten hours", "hours_logged", 10),
                ("c5", "Five people", "contacts_helped", 5),
                ("h2_5", "Two and a half hours", "hours_logged", 2.5),
            ]
        )
    )
    ran = milestones("catalog", "check", str(catalog))
    assert ran.status == 0
    assert ran.out.splitlines() == [
        f"{catalog}: a valid catalog of 4 milestones",
        "hours_logged:",
        "    2.5  h2_5   Two and a half hours",
        "     10  h10    Ten hours",
        "  1,000  h1000  A thousand hours",
        "contacts_helped:",
        "  5  c5  Five people",
    ]


def test_the_packaged_catalog_is_valid(milestones: Command) -> None:
    packaged = Path(str(resources.files("milestones").joinpath("catalog.toml")))
    ran = milestones("catalog", "check", str(packaged))
    assert ran.status == 0
    assert "activity_count:" in ran.out.splitlines()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '[[milestone]]\nkey = "c"\nname = "Half"\ntype = "contacts_helped"\nthreshold = 0.5\n',
            "milestone #1: a contacts_helped threshold must be a whole number, got 0.5",
        ),
        (
            '[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n' * 2,
            "milestone #2: key 'a' appears twice",
        ),
        ("[[milestone]\n", "Expected ']]' at the end of an array declaration (at line 1, column 12)"),
        ("", "defines no milestones"),
    ],
)
def test_a_bad_catalog_is_refused_in_one_line(tmp_path: Path, text: str, reason: str) -> None:
    catalog = tmp_path / "bad.toml"
    catalog.write_text(text)
    ran = in_a_process("catalog", "check", str(catalog), cwd=tmp_path)
    assert ran.status == 1
    assert len(ran.err_lines) == 1, ran.err
    assert ran.err_lines[0].startswith(f"milestones: invalid catalog: {catalog}")
    assert ran.err_lines[0].endswith(reason)


def test_a_catalog_that_is_not_there_or_not_a_file(tmp_path: Path) -> None:
    missing = in_a_process("catalog", "check", "nowhere.toml", cwd=tmp_path)
    assert (missing.status, missing.err_lines) == (2, ["milestones: nowhere.toml: no such file"])
    folder = in_a_process("catalog", "check", ".", cwd=tmp_path)
    assert (folder.status, folder.err_lines) == (2, ["milestones: .: is a directory; give a catalog file (TOML)"])
    (tmp_path / "image.toml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    image = in_a_process("catalog", "check", "image.toml", cwd=tmp_path)
    assert (image.status, image.err_lines) == (1, ["milestones: image.toml: is not UTF-8 text, so not a catalog"])
    nothing = in_a_process("catalog", cwd=tmp_path)
    assert nothing.status == 2
    assert len(nothing.err_lines) == 1
