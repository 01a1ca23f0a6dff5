"""`milestones catalog`: check a file (its ladder, or every problem in one line each), publish it as the stored
catalog's next version, list the versions and compare two."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from milestones.catalog import catalog_of, load_catalog
from milestones.settings import Settings
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
        "knows key, name, type, threshold, description, tier, translations or criteria)",
        f"milestones: invalid catalog: {catalog}, milestone #3: hours_logged threshold 5 is already milestone #2 "
        "(b); two milestones of one type cannot share a threshold",
    ]


def test_a_catalog_of_one_milestone_says_milestone(milestones: Command, tmp_path: Path) -> None:
    catalog = tmp_path / "one.toml"
    catalog.write_text('[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n')
    assert (
        milestones("catalog", "check", str(catalog)).out.splitlines()[0] == f"{catalog}: a valid catalog of 1 milestone"
    )


PACKAGED = Path(str(resources.files("milestones").joinpath("catalog.toml")))


def raised(tmp_path: Path, version: str | None = "2027-01") -> Path:
    """The packaged catalog with the 50-hour rung raised to 60, a new 2,000-hour rung, and the 10-hour one retired."""
    text = PACKAGED.read_text(encoding="utf-8").replace(
        'threshold = 50\ntier = "silver"', 'threshold = 60\ntier = "silver"'
    )
    entries = text.split("[[milestone]]")
    text = "[[milestone]]".join(e for e in entries if 'key = "10h"\n' not in e)
    text += '\n[[milestone]]\nkey = "2000h"\nname = "2000 Hours Milestone"\ntype = "hours_logged"\nthreshold = 2000\n'
    path = tmp_path / "raised.toml"
    path.write_text((f'version = "{version}"\n' if version else "") + text, encoding="utf-8")
    return path


def test_publish_stores_a_version_that_versions_lists_and_diff_compares(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    first = catalog_of(load_catalog()).version
    published = milestones("catalog", "publish", str(raised(tmp_path)))
    assert (published.status, published.err) == (0, "")
    assert published.out == (
        f"published {tmp_path / 'raised.toml'} as version 2027-01 (15 milestones); "
        "every worker serves it within a second\n"
    )
    again = milestones("catalog", "publish", str(raised(tmp_path)))
    assert (again.status, again.out) == (
        0,
        f"{tmp_path / 'raised.toml'}: nothing to publish: version 2027-01 is already the latest\n",
    )

    listed = milestones("catalog", "versions")
    assert listed.status == 0
    header, *rows = listed.out.splitlines()
    assert header.split() == ["version", "published", "content", "hash", "milestones"]
    assert [row.split()[0] for row in rows] == [first, "2027-01"]
    assert rows[0].split()[-1] == "15" and rows[0].split()[2] == first
    assert rows[1].endswith("15  (latest)")
    # Every column starts where its heading does.
    column = header.index("content hash")
    assert [row[column - 2 : column] + row[column:].split()[0] for row in rows] == [f"  {r.split()[2]}" for r in rows]

    compared = milestones("catalog", "diff", first, "2027-01")
    assert compared.status == 0
    lines = compared.out.splitlines()
    assert lines[:2] == [
        "- 10h: removed ('10 Hours Milestone', hours_logged 10)",
        "~ 50h: threshold 50 -> 60; position 1 -> 0",
    ]
    assert lines[-1] == "+ 2000h: added ('2000 Hours Milestone', hours_logged 2000)"
    # Every other rung only moved up one place, the retired one having left.
    assert all(line.startswith("~ ") and line.endswith(" -> " + str(int(line.split()[-3]) - 1)) for line in lines[2:-1])
    assert len(lines) == 16
    same = milestones("catalog", "diff", "2027-01", "2027-01")
    assert same.out == "versions 2027-01 and 2027-01 define the same milestones\n"


def test_publishing_without_a_version_names_it_by_its_content_hash(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    path = raised(tmp_path, version=None)
    ran = milestones("catalog", "publish", str(path))
    expected = catalog_of(load_catalog(path)).version
    assert ran.status == 0
    assert f"as version {expected} " in ran.out
    assert milestones("catalog", "versions").out.splitlines()[-1].startswith(f"{expected} ")


def test_publish_and_diff_mistakes_are_one_line(milestones: Command, database: Settings, tmp_path: Path) -> None:
    path = raised(tmp_path)
    assert milestones("catalog", "publish", str(path)).status == 0
    # The same version name with other definitions is refused: a version is never changed once published.
    path.write_text(path.read_text(encoding="utf-8").replace("threshold = 60", "threshold = 70"), encoding="utf-8")
    taken = milestones("catalog", "publish", str(path))
    assert taken.status == 1
    assert taken.err_lines == [
        f"milestones: {path}: not published: version 2027-01 is already published with other definitions; give the "
        "file another `version`"
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'version = "has space"\n[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n'
    )
    invalid = milestones("catalog", "publish", str(bad))
    assert invalid.status == 1
    assert len(invalid.err_lines) == 1
    assert "version must be 1 to 64 letters" in invalid.err
    unknown = milestones("catalog", "diff", "2027-01", "nope")
    assert unknown.status == 2
    assert unknown.err_lines[0].startswith("milestones: no stored catalog version 'nope' (stored: ")
    assert milestones("catalog", "versions").out.count("\n") == 3  # the header and two versions: nothing changed


def test_publish_in_a_database_that_is_not_there_says_so(tmp_path: Path) -> None:
    ran = in_a_process("catalog", "publish", str(PACKAGED), cwd=tmp_path)
    assert ran.status == 2
    assert len(ran.err_lines) == 1
    assert ran.err_lines[0].startswith("milestones: no database at ")
