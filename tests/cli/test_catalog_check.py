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
            "".join(
                f'[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = {threshold}\n'
                for threshold in (1, 2)
            ),
            "milestone #2: key 'a' appears twice (first as milestone #1)",
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


def test_every_problem_of_a_catalog_is_a_line_of_its_own(tmp_path: Path) -> None:
    catalog = tmp_path / "bad.toml"
    catalog.write_text(
        'version = "1"\n'
        '[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours"\nthreshold = 1\n'
        '[[milestone]]\nkey = "b"\nname = "B"\ntype = "hours_logged"\nthreshold = 5\nicon = "clock"\n'
        '[[milestone]]\nkey = "c"\nname = "C"\ntype = "hours_logged"\nthreshold = 5\n'
    )
    ran = in_a_process("catalog", "check", str(catalog), cwd=tmp_path)
    assert ran.status == 1
    assert ran.err_lines == [
        f"milestones: invalid catalog: {catalog}, milestone #1: type must be hours_logged, contacts_helped or "
        "activity_count, got 'hours'",
        f"milestones: invalid catalog: {catalog}, milestone #2: 'icon' is not a field a catalog knows here (it "
        "knows key, name, type, threshold, description, tier or translations)",
        f"milestones: invalid catalog: {catalog}, milestone #3: hours_logged threshold 5 is already milestone #2 "
        "(b); two milestones of one type cannot share a threshold",
    ]


def test_a_catalog_of_one_milestone_says_milestone(milestones: Command, tmp_path: Path) -> None:
    catalog = tmp_path / "one.toml"
    catalog.write_text('[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n')
    assert (
        milestones("catalog", "check", str(catalog)).out.splitlines()[0] == f"{catalog}: a valid catalog of 1 milestone"
    )
