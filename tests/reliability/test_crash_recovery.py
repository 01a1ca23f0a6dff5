"""SQLite under SIGKILL mid-write and a full disk: acknowledged writes survive, nothing is half-written."""

from __future__ import annotations

import resource
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.servers import (
    MILESTONES_PATH,
    PROBLEM_JSON,
    Service,
    Traffic,
    Write,
    crash_while_writing,
    summary_for,
)

CRASHES = 3
CLIENTS = 4
MENTORS_PER_CLIENT = 3


def period_row(write: Write) -> tuple[str, str, str, float, int, int]:
    s = write.summary
    return (*write.key, s["total_hours"], s["unique_contacts_helped"], s["activity_count"])


def test_sigkill_mid_stream_loses_no_acknowledged_write_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "milestones.sqlite3"
    service = Service(f"sqlite:///{path}", tmp_path / "serve")
    runs: list[Traffic] = []
    for crash in range(CRASHES):
        service.start()
        traffic = Traffic(
            service.base_url,
            clients=CLIENTS,
            prefix="crash",
            mentors_per_client=MENTORS_PER_CLIENT,
            first_month=100 * crash,  # the same mentors, later months: every write is a new period
            reads=False,
            pause=0,
        )
        killed_at = crash_while_writing(service, traffic, acknowledged_before_kill=40, seed=crash)
        runs.append(traffic)
        # The server died with a live write-ahead log, which the next start has to recover from.
        assert path.with_name(path.name + "-wal").exists()
        # Every write was acknowledged until the kill; from then on requests got no answer, never an error status.
        assert {a.status for a in traffic.answers} <= {200, 201, 0}
        assert all(a.finished >= killed_at for a in traffic.answers if a.status == 0)

    acknowledged = [w for t in runs for w in t.acknowledged]
    attempted = {period_row(w) for t in runs for w in t.attempted}
    in_flight_at_kill = {period_row(w) for t in runs for w in t.unanswered}
    assert len(acknowledged) >= CRASHES * 40
    # Some writes were in flight when the server was killed: the crashes really were mid-stream.
    assert in_flight_at_kill

    service.start()
    try:
        with httpx.Client(base_url=service.base_url, timeout=60) as http:
            mentors = sorted({w.mentor_id for w in acknowledged})
            periods = {m: _get(http, f"/api/v1/mentors/{m}/periods")["data"] for m in mentors}
            milestones = {m: _get(http, MILESTONES_PATH, mentor_id=m, limit=100)["data"] for m in mentors}
            stored = {(m, p["start_date"], p["end_date"], *p["summary"].values()) for m in mentors for p in periods[m]}

            # Every acknowledged write is there with the summary it carried.
            assert {period_row(w) for w in acknowledged} <= stored
            # Anything else stored was a write in flight at a kill, committed but unanswered; nothing is invented.
            assert stored - {period_row(w) for w in acknowledged} <= in_flight_at_kill
            assert stored <= attempted

            # The milestones each acknowledged write answered with are there: achieved ones exactly as answered
            # (achieved stays achieved), and a mentor whose last stored write was acknowledged shows exactly
            # what that write answered.
            stored_by_id = {m: {item["id"]: item for item in milestones[m]} for m in mentors}
            last_write: dict[str, Write] = {}
            for write in acknowledged:
                last_write[write.mentor_id] = write
                for item in write.milestones or []:
                    if item["status"] == "achieved":
                        assert stored_by_id[write.mentor_id].get(item["id"]) == item
            acknowledged_keys = defaultdict(set)
            for write in acknowledged:
                acknowledged_keys[write.mentor_id].add(write.key)
            settled = [
                m for m in mentors if {(m, p["start_date"], p["end_date"]) for p in periods[m]} == acknowledged_keys[m]
            ]
            assert settled, "expected some mentors with no in-flight write at a kill"
            for mentor in settled:
                assert milestones[mentor] == last_write[mentor].milestones

            # Nothing half-written: posting every stored summary again changes nothing (200, not 201), so the
            # stored milestones are exactly what detection gives for the stored periods.
            for mentor in mentors:
                for p in periods[mentor]:
                    body = {"mentor_id": mentor, "period": {k: p[k] for k in ("year", "start_date", "end_date")}}
                    body["summary"] = p["summary"]
                    again = http.post(MILESTONES_PATH, json=body)
                    assert again.status_code == 200, (mentor, p, again.text)
                    assert again.json()["data"] == milestones[mentor]
    finally:
        service.stop()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute(
            "SELECT count(*) FROM (SELECT mentor_id, definition_key FROM milestones GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone() == (0,)
        # Only POSTs ran: a mentor has milestones exactly when they have periods.
        with_periods = {r[0] for r in db.execute("SELECT DISTINCT mentor_id FROM periods")}
        with_milestones = {r[0] for r in db.execute("SELECT DISTINCT mentor_id FROM milestones")}
        assert with_periods == with_milestones == set(mentors)


def _get(http: httpx.Client, url: str, **params: Any) -> Any:
    response = http.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_full_disk_is_503_and_writes_resume_by_themselves_when_space_returns(tmp_path: Path) -> None:
    path = tmp_path / "milestones.sqlite3"
    mentor = "full-disk"
    bodies = [summary_for(mentor, n, hours=30, contacts=4, activities=20) for n in range(40)]
    with Service(f"sqlite:///{path}", tmp_path / "serve") as service, httpx.Client(base_url=service.base_url) as http:
        assert service.process is not None
        pid = service.process.pid
        answers = [http.post(MILESTONES_PATH, json=b, timeout=60) for b in bodies[:3]]
        # From now on the server may not grow any file past the largest one there is: a write that needs room
        # fails as on a full disk (the kernel answers EFBIG where a full disk answers ENOSPC; SQLite reports
        # either as an I/O failure).
        limit = max(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        try:
            for body in bodies[3:]:
                answers.append(http.post(MILESTONES_PATH, json=body, timeout=60))
                if answers[-1].status_code != 201:
                    break
            # Reads go on, and show exactly the acknowledged writes: the failed one left nothing behind.
            periods = _get(http, f"/api/v1/mentors/{mentor}/periods")["data"]
            listed = _get(http, MILESTONES_PATH, mentor_id=mentor, limit=100)["data"]
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        # Room again: the same process takes the retried write, without a restart.
        failed_body = bodies[len(answers) - 1]
        retried = http.post(MILESTONES_PATH, json=failed_body, timeout=60)
        again = http.post(MILESTONES_PATH, json=failed_body, timeout=60)
        assert service.process is not None and service.process.pid == pid and service.starts == 1

    *acknowledged, failed = answers
    assert [a.status_code for a in acknowledged] == [201] * len(acknowledged)
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == PROBLEM_JSON
    assert failed.headers["retry-after"] == "1"
    assert failed.json()["type"] == "/problems/database-unavailable"
    assert [p["start_date"] for p in periods] == [b["period"]["start_date"] for b in bodies[: len(acknowledged)]]
    assert listed == acknowledged[-1].json()["data"]
    assert (retried.status_code, again.status_code) == (201, 200)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT count(*) FROM periods").fetchone() == (len(acknowledged) + 1,)
