"""`milestones detect` end to end: JSON Lines and CSV files, standard input, rejected lines, exit statuses,
progress, the summary, --rejects and --metrics-file."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from milestones.bulk.formats import SUMMARY_COLUMNS
from milestones.domain import Status
from milestones.settings import Settings
from tests.cli.conftest import Command, in_a_process, stored
from tests.factories import summary_body
from tests.served import clean_environment, milestones_command

HEADER = ",".join(SUMMARY_COLUMNS)


def jsonl(*bodies: object) -> str:
    return "".join((b if isinstance(b, str) else json.dumps(b)) + "\n" for b in bodies)


def comparable(settings: Settings, *mentors: str) -> list[tuple[Any, ...]]:
    return [
        (m.mentor_id, m.definition_key, m.status, m.current_value, m.achieved_value, m.achieved_at)
        for milestones in stored(settings, *mentors).values()
        for m in milestones
    ]


def test_a_jsonl_file_with_good_and_bad_lines(database: Settings, milestones: Command, tmp_path: Path) -> None:
    path = tmp_path / "summaries.jsonl"
    path.write_text(
        jsonl(
            summary_body("ok1", year=2024, hours=60, contacts=20, activities=40),
            "not json",
            summary_body("bad", hours=4.555, contacts=4.5, activities="many"),
            "",
            summary_body("ok1", year=2025, hours=60, contacts=20, activities=40),
            summary_body("ok1", start_date="2025-06-01", end_date="2026-05-31", year=2025),  # overlaps line 5
            {"mentor_id": "x"},
        )
    )
    ran = milestones("detect", str(path))
    assert ran.status == 1
    assert ran.err_lines == [
        "line 2: body: is not valid JSON: expected a value (an object, array, string, number, true, false or null) "
        "at column 1",
        "line 3: summary.total_hours: must be a number from 0 to 1,000,000 with at most 2 decimal places",
        "line 3: summary.unique_contacts_helped: must be a whole number from 0 to 10,000,000",
        "line 3: summary.activity_count: must be a whole number from 0 to 10,000,000",
        "line 6: period: The period 2025-06-01..2026-05-31 overlaps the stored period 2025-01-01..2025-12-31; "
        "delete that one first or post the same dates.",
        "line 7: period: is required",
        "line 7: summary: is required",
    ]
    # 10h, 50h and 100h reached, 10 and 25 contacts, 50 activities: six new, and one in progress per type.
    assert ran.out.startswith("6 lines read: 2 summaries stored, 4 lines rejected; ")
    assert "6 milestones newly achieved" in ran.out
    assert [m.definition_key for m in stored(database, "ok1")["ok1"] if m.status == "achieved"] == [
        "10h",
        "50h",
        "100h",
        "10contacts",
        "25contacts",
        "50activities",
    ]
    assert stored(database, "bad", "x") == {"bad": [], "x": []}

    again = milestones("detect", "--json", str(path))
    assert again.status == 1
    assert again.err_lines == ran.err_lines  # the same lines, in the same order, every run
    report = json.loads(again.out)
    assert (report["periods_written"], report["milestones_written"], report["milestones_achieved"]) == (0, 0, 0)
    assert (report["lines"], report["summaries"], report["rejected"]) == (6, 2, 4)


def test_rejected_lines_come_in_line_order_across_batches(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    """Refused when decoded (invalid) and when written (overlaps) are two stages a batch apart; the report
    still follows the file."""
    bodies: list[object] = []
    expected = []
    for i in range(12):
        number = len(bodies) + 1
        if i % 3 == 0:
            bodies.append(summary_body(f"m{i}", contacts=-1))
            expected.append(
                f"line {number}: summary.unique_contacts_helped: must be a whole number from 0 to 10,000,000"
            )
        elif i % 3 == 1:
            bodies.append(summary_body("shared", year=2000 + i))
        else:
            bodies.append(
                summary_body(
                    "shared", start_date=f"{2000 + i - 1}-06-01", end_date=f"{2000 + i}-05-31", year=2000 + i - 1
                )
            )
            expected.append(
                f"line {number}: period: The period {2000 + i - 1}-06-01..{2000 + i}-05-31 overlaps the stored "
                f"period {2000 + i - 1}-01-01..{2000 + i - 1}-12-31; delete that one first or post the same dates."
            )
    path = tmp_path / "mixed.jsonl"
    path.write_text(jsonl(*bodies))
    ran = milestones("detect", "--batch-size", "2", str(path))
    assert ran.status == 1
    assert ran.err_lines == expected


def test_a_csv_file_stores_what_the_same_jsonl_stores(database: Settings, milestones: Command, tmp_path: Path) -> None:
    rows = [("c", 2024, 150, 30, 120), ("c", 2025, 160.25, 25, 90), ("d", 2025, 12.5, 3, 7)]
    csv_path = tmp_path / "summaries.csv"
    csv_path.write_text(HEADER + "\n" + "".join(f"{m},{y},{y}-01-01,{y}-12-31,{h},{c},{a}\n" for m, y, h, c, a in rows))
    jsonl_path = tmp_path / "summaries.jsonl"
    jsonl_path.write_text(
        jsonl(*(summary_body(f"j{m}", year=y, hours=h, contacts=c, activities=a) for m, y, h, c, a in rows))
    )
    assert milestones("detect", str(csv_path)).status == 0
    assert milestones("detect", str(jsonl_path)).status == 0
    from_csv = comparable(database, "c", "d")
    from_jsonl = comparable(database, "jc", "jd")
    assert [row[1:] for row in from_csv] == [row[1:] for row in from_jsonl]
    assert len(from_csv) > 6


def test_csv_lines_are_numbered_as_the_file_counts_them(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    path = tmp_path / "summaries.txt"  # not .csv: --format says so
    path.write_text(
        "\ufeff"  # a byte order mark, as spreadsheets write
        "mentor_id, year ,start_date,end_date,total_hours,unique_contacts_helped,activity_count\n"
        "ok,2025,2025-01-01,2025-12-31,312.5,47,198\n"
        "\n"
        'bad,2025,2025-01-01,2025-12-31,"1,5",4.5,abc\n'
        "short,2025,2025-01-01,2025-12-31,10,1\n"
        'long,2025,2025-01-01,2025-12-31,10,1,2,"surplus"\n'
        "swapped,2025,2025-12-31,2025-01-01,10,1,2\n"
        '"multi\nline",2025,2025-01-01,2025-12-31,10,1,2\n'
    )
    ran = milestones("detect", "--format", "csv", str(path))
    assert ran.status == 1
    assert ran.err_lines == [
        "line 4: summary.total_hours: must be a number from 0 to 1,000,000 with at most 2 decimal places",
        "line 4: summary.unique_contacts_helped: must be a whole number from 0 to 10,000,000",
        "line 4: summary.activity_count: must be a whole number from 0 to 10,000,000",
        "line 5: summary.activity_count: is required",
        "line 6: column 8: is not a field of this request",
        "line 7: period.end_date: must not be before period.start_date",
        "line 9: mentor_id: must be 1 to 128 letters, digits or . _ : @ - (and not . or ..)",
    ]
    assert ran.out.startswith("6 lines read: 1 summary stored, 5 lines rejected")
    assert len(stored(database, "ok")["ok"]) > 0


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_rejected_lines_written_to_a_file_can_be_corrected_and_fed_back(
    database: Settings, milestones: Command, tmp_path: Path, file_format: str
) -> None:
    path = tmp_path / f"in.{file_format}"
    rejects = tmp_path / f"rejects.{file_format}"
    if file_format == "csv":
        path.write_text(
            f"{HEADER}\na,2025,2025-01-01,2025-12-31,10,1,2\nb,2025,2025-01-01,2025-12-31,10,1.5,2\n"
            "c,2025,2025-01-01,2025-12-31,ten,1,2\n"
        )
    else:
        path.write_text(
            jsonl(summary_body("a", hours=10), summary_body("b", contacts=1.5), summary_body("c", hours="ten"))
        )
    first = milestones("detect", str(path), "--rejects", str(rejects))
    assert first.status == 1
    header = 1 if file_format == "csv" else 0
    assert [line.split(":")[0] for line in first.err_lines] == [f"line {2 + header}", f"line {3 + header}"]
    text = rejects.read_text()
    if file_format == "csv":
        assert text == f"{HEADER}\nb,2025,2025-01-01,2025-12-31,10,1.5,2\nc,2025,2025-01-01,2025-12-31,ten,1,2\n"
    else:
        assert [json.loads(line)["mentor_id"] for line in text.splitlines()] == ["b", "c"]
    rejects.write_text(text.replace("1.5", "1").replace('"ten"', "10").replace(",ten,", ",10,"))
    fed_back = milestones("detect", str(rejects))
    assert fed_back.status == 0, fed_back.err
    assert fed_back.err == ""
    assert all(stored(database, "a", "b", "c").values())


def test_the_summary_counts_go_to_a_metrics_file(database: Settings, milestones: Command, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        jsonl(
            summary_body("a", hours=120, contacts=0, activities=0),
            summary_body("b", hours=5, contacts=0, activities=0),
            "{}",
        )
    )
    metrics = tmp_path / "detect.prom"
    ran = milestones("detect", "--json", str(path), "--metrics-file", str(metrics))
    assert ran.status == 1
    report = json.loads(ran.out)
    values = {family.name: family.samples[0].value for family in text_string_to_metric_families(metrics.read_text())}
    assert values["milestones_detect_lines_read"] == report["lines"] == 3
    assert values["milestones_detect_summaries_stored"] == 2
    assert values["milestones_detect_lines_rejected"] == 1
    assert values["milestones_detect_mentors_changed"] == 2
    assert values["milestones_detect_milestones_achieved"] == report["milestones_achieved"] == 3  # 10h 50h 100h
    assert values["milestones_detect_milestones_in_progress"] == report["milestones_in_progress"]
    assert values["milestones_detect_last_run_timestamp_seconds"] > 1.7e9


def test_newly_achieved_counts_only_milestones_not_achieved_before(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    first = tmp_path / "2024.jsonl"
    first.write_text(jsonl(summary_body("a", year=2024, hours=60, contacts=0, activities=0)))
    second = tmp_path / "2025.jsonl"
    second.write_text(jsonl(summary_body("a", year=2025, hours=60, contacts=0, activities=0)))
    assert json.loads(milestones("detect", "--json", str(first)).out)["milestones_achieved"] == 2  # 10h, 50h
    report = json.loads(milestones("detect", "--json", str(second)).out)
    assert report["milestones_achieved"] == 1  # 100h; 10h and 50h stay as they were
    assert report["milestones_in_progress"] == 1  # 250h replaces 100h as the hours rung in progress


# --- as a user runs it: exit statuses, one-line errors, standard input, progress ------------------------------


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"MILESTONES_DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"}


def png_bytes() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image, format="PNG")
    return image.getvalue()


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        (["detect", "missing.jsonl"], None, "milestones: missing.jsonl: no such file"),
        (
            ["detect", "folder"],
            "folder",
            "milestones: folder: is a directory; give a JSON Lines or CSV file (or - for standard input)",
        ),
        (
            ["detect", "badge.png"],
            "png",
            "milestones: badge.png: is not a text file (it holds NUL bytes); expected JSON Lines or CSV",
        ),
        (
            ["detect", "latin1.jsonl"],
            "latin1",
            "milestones: latin1.jsonl: is not UTF-8 text (byte 19 is not); expected JSON Lines or CSV",
        ),
        (
            ["detect", "--batch-size", "0", "x.jsonl"],
            None,
            "milestones detect: argument --batch-size: must be a whole number of 1 or more, got '0' "
            "(see milestones detect --help)",
        ),
        (
            ["detect", "--format", "xml", "x.jsonl"],
            None,
            None,  # argparse's own words for choices vary between Python versions
        ),
        (
            ["detect"],
            None,
            "milestones detect: the following arguments are required: file (see milestones detect --help)",
        ),
        (
            ["detect", "in.csv"],
            "bad header",
            "milestones: in.csv: line 1: the CSV header lacks total_hours and has unknown columns 'hours'; "
            f"it must name the columns {HEADER}",
        ),
        (
            ["detect", "x.jsonl", "--rejects", "no/such/folder/r.jsonl"],
            None,
            "milestones: no/such/folder/r.jsonl: the folder no/such/folder does not exist",
        ),
        (["frobnicate"], None, None),
    ],
)
def test_what_cannot_run_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], setup: str | None, message: str | None
) -> None:
    if setup == "folder":
        (tmp_path / "folder").mkdir()
    elif setup == "png":
        (tmp_path / "badge.png").write_bytes(png_bytes())
    elif setup == "latin1":
        (tmp_path / "latin1.jsonl").write_bytes('{"mentor_id": "Jos\u00e9"}\n'.encode("latin-1"))
    elif setup == "bad header":
        (tmp_path / "in.csv").write_text(HEADER.replace("total_hours", "hours") + "\na,2025\n")
    ran = in_a_process(*args, cwd=tmp_path, env=sqlite_env(tmp_path))
    assert ran.status == 2
    assert len(ran.err_lines) == 1, ran.err
    assert "Traceback" not in ran.err
    if message is not None:
        assert ran.err_lines == [message]
    assert ran.out == ""


def test_a_database_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(jsonl(summary_body("a")))
    unreachable = {
        "MILESTONES_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere",
        "MILESTONES_POSTGRES_CONNECT_TIMEOUT_SECONDS": "2",
    }
    for migrate in ("true", "false"):
        ran = in_a_process(
            "detect", str(path), cwd=tmp_path, env={**unreachable, "MILESTONES_MIGRATE_ON_START": migrate}
        )
        assert ran.status == 2
        assert len(ran.err_lines) == 1, ran.err
        assert "Traceback" not in ran.err
        assert "127.0.0.1:9" in ran.err or "PostgreSQL cannot be reached" in ran.err
    not_a_folder = in_a_process(
        "detect", str(path), cwd=tmp_path, env={"MILESTONES_DATABASE_URL": "sqlite:////dev/null/m.sqlite3"}
    )
    assert not_a_folder.status == 2
    assert len(not_a_folder.err_lines) == 1, not_a_folder.err
    assert not_a_folder.err.startswith("milestones: the database sqlite:////dev/null/m.sqlite3 cannot be migrated")


def test_bad_settings_and_catalogs_are_one_line(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("[[milestone]]\nkey = 'x'\n")
    ran = in_a_process(
        "detect", "-", cwd=tmp_path, env={**sqlite_env(tmp_path), "MILESTONES_CATALOG_PATH": str(catalog)}
    )
    assert ran.status == 2
    assert ran.err_lines == [
        f"milestones: invalid catalog: {catalog}, milestone #1: name is missing; {catalog}, milestone #1: type is "
        f"missing: give hours_logged, contacts_helped or activity_count; {catalog}, milestone #1: threshold is missing"
    ]
    ran = in_a_process(
        "detect", "-", cwd=tmp_path, env={**sqlite_env(tmp_path), "MILESTONES_POSTGRES_POOL_SIZE": "lots"}
    )
    assert ran.status == 2
    assert ran.err_lines == [
        "milestones: invalid configuration: MILESTONES_POSTGRES_POOL_SIZE: must be a whole number from 1 to 200"
    ]


def test_standard_input_is_read_with_a_dash(tmp_path: Path) -> None:
    good = jsonl(summary_body("in1"), summary_body("in2"))
    ran = in_a_process("detect", "-", cwd=tmp_path, stdin=good.encode(), env=sqlite_env(tmp_path))
    assert ran.status == 0, ran.err
    assert ran.err == ""  # not a terminal: quiet until the summary
    assert ran.out.startswith("2 lines read: 2 summaries stored, 0 lines rejected; 2 mentors changed")
    csv_input = f"{HEADER}\nin3,2025,2025-01-01,2025-12-31,5,1,1\nin4,2025,2025-01-01,2025-12-31,x,1,1\n"
    ran = in_a_process(
        "detect", "--format", "csv", "-", cwd=tmp_path, stdin=csv_input.encode(), env=sqlite_env(tmp_path)
    )
    assert ran.status == 1
    assert ran.err_lines == [
        "line 3: summary.total_hours: must be a number from 0 to 1,000,000 with at most 2 decimal places"
    ]
    binary = in_a_process("detect", "-", cwd=tmp_path, stdin=png_bytes(), env=sqlite_env(tmp_path))
    assert binary.status == 2
    assert binary.err_lines == [
        "milestones: standard input: is not a text file (it holds NUL bytes); expected JSON Lines or CSV"
    ]


def test_a_terminal_gets_a_progress_bar_and_a_pipe_does_not(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(jsonl(*(summary_body(f"p{i}") for i in range(30))))
    quiet = in_a_process("detect", "--batch-size", "10", str(path), cwd=tmp_path, env=sqlite_env(tmp_path))
    assert quiet.status == 0
    assert quiet.err == ""
    # TTY_COMPATIBLE=1 is rich's own switch for "this output is a terminal".
    shown = in_a_process(
        "detect", "--batch-size", "10", str(path), cwd=tmp_path, env={**sqlite_env(tmp_path), "TTY_COMPATIBLE": "1"}
    )
    assert shown.status == 0
    frames = shown.err.replace("\r", "\n")
    assert "10 lines," in frames  # redrawn per batch
    assert "30 lines," in frames
    assert "lines/s" in frames
    assert "100%" in frames
    assert "0:00:00" in frames  # time left
    assert shown.out.startswith("30 lines read: 30 summaries stored")


def test_a_file_of_only_bad_lines_stores_nothing(database: Settings, milestones: Command, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(jsonl(*(summary_body(f"m{i}", hours=-1) for i in range(5))))
    ran = milestones("detect", "--batch-size", "2", "--json", str(path))
    assert ran.status == 1
    assert [line.split(":")[0] for line in ran.err_lines] == [f"line {n}" for n in range(1, 6)]
    assert json.loads(ran.out)["summaries"] == 0
    assert milestones("export").out == ""


def test_rejected_lines_name_the_column_in_the_files_line_in_plain_words(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    path = tmp_path / "summaries.jsonl"
    huge_year = json.dumps(summary_body("c")).replace('"year": 2025', '"year": ' + "9" * 5000)
    path.write_text(jsonl(summary_body("a"), '{"mentor_id": "b", x}', huge_year))
    ran = milestones("detect", str(path))
    assert ran.status == 1
    assert ran.err_lines == [
        "line 2: body: is not valid JSON: expected a field name in double quotes at column 20",
        "line 3: period.year: must be a whole number from 1 to 9999",
    ]


def test_ctrl_c_says_how_many_lines_were_committed_and_that_running_again_is_safe(tmp_path: Path) -> None:
    """Ctrl-C as a terminal sends it, to the command's whole process group (the detecting process too)."""
    path = tmp_path / "big.jsonl"
    path.write_text(jsonl(*(summary_body(f"m{n}") for n in range(100_000))))
    database = tmp_path / "m.sqlite3"
    env = clean_environment(MILESTONES_DATABASE_URL=f"sqlite:///{database}")
    subprocess.run(milestones_command("migrate"), env=env, check=True, capture_output=True)
    running = subprocess.Popen(
        milestones_command("detect", str(path), "--batch-size", "1000"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def periods() -> int:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("SELECT count(*) FROM periods").fetchone()[0])

    deadline = time.monotonic() + 60
    while not periods() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(running.pid, signal.SIGINT)
    out, err = running.communicate(timeout=60)
    committed = periods()
    assert 0 < committed < 100_000
    assert running.returncode == 130
    assert out == b""
    assert err.decode().splitlines() == [
        f"milestones: interrupted; {committed:,} lines were committed before it stopped ({committed:,} summaries "
        "stored). Running the same file again is safe: what went in already changes nothing"
    ]


def test_a_period_that_starts_after_today_is_a_rejected_line(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    path = tmp_path / "summaries.jsonl"
    later = summary_body("later", year=tomorrow.year, start_date=tomorrow.isoformat(), end_date=tomorrow.isoformat())
    path.write_text(jsonl(summary_body("now"), later))
    ran = milestones("detect", str(path))
    assert ran.status == 1
    assert ran.err_lines == [
        f"line 2: period.start_date: The period starts on {tomorrow}, after today ({today}); record its "
        "summary once it has begun."
    ]
    assert stored(database, "later") == {"later": []}


def notify_flags(settings: Settings) -> set[tuple[str, bool]]:
    """Each mentor's events' `notify` flags, as stored."""
    query = "SELECT DISTINCT mentor_id, notify FROM events"
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            return {(mentor, bool(notify)) for mentor, notify in conn.execute(query)}

    async def fetch() -> set[tuple[str, bool]]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return {(row["mentor_id"], row["notify"]) for row in await conn.fetch(query)}
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_no_notify_records_events_that_push_delivery_skips(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    path = tmp_path / "summaries.jsonl"
    path.write_text(jsonl(summary_body("quiet", hours=60, contacts=20, activities=40)))
    assert milestones("detect", "--no-notify", str(path)).status == 0
    path.write_text(jsonl(summary_body("told", hours=60, contacts=20, activities=40)))
    assert milestones("detect", str(path)).status == 0

    assert [m.status for m in stored(database, "quiet")["quiet"]].count(Status.ACHIEVED) == 3  # 10h, 50h, 10 contacts
    assert notify_flags(database) == {("quiet", False), ("told", True)}
