"""`python -m bench.storage`: what storing mentors costs on PostgreSQL. Loads `--mentors` mentors through the bulk
path (`milestones detect`) into a fresh database, one calendar-year summary per mentor per `--years`, and prints
each table's pg_total_relation_size (heap, indexes and TOAST) after each year, per mentor and extrapolated
linearly to a million mentors, with each load's summaries per second."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.data import write_bulk
from bench.harness import PostgresDatabases, log, migrate
from bench.report import markdown_table
from bench.scale import run_detect

# Every table, whatever holds rows: sizes of the empty ones are their fixed cost (a page or two per index).
_SIZES = """
SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'
ORDER BY pg_total_relation_size(c.oid) DESC
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__)
    parser.add_argument("--postgres", metavar="URL", required=True, help="a fresh database is made next to this one")
    parser.add_argument("--mentors", type=int, default=200_000, help="mentors to load (default 200,000)")
    parser.add_argument("--years", type=int, default=2, help="calendar-year summaries per mentor (default 2)")
    args = parser.parse_args(argv)
    if args.mentors < 1 or not 1 <= args.years <= 20:
        parser.error("--mentors must be positive and --years from 1 to 20")
    return args


async def _sizes(url: str) -> list[tuple[str, int, int]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        # Statistics and the visibility map as a database in service has them; VACUUM does not shrink files.
        await conn.execute("VACUUM ANALYZE")
        return [(row[0], max(int(row[1]), 0), int(row[2])) for row in await conn.fetch(_SIZES)]
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    databases = PostgresDatabases(args.postgres)
    url = databases.create()
    lines: list[str] = []
    try:
        migrate(url, None)
        with tempfile.TemporaryDirectory(prefix="milestones-storage-") as tmp_name:
            tmp = Path(tmp_name)
            bulk, _ = write_bulk(tmp / "2025.jsonl", args.mentors, tmp / "head.jsonl", 1)
            for year in range(2025, 2025 - args.years, -1):
                path = tmp / f"{year}.jsonl"
                if year != 2025:
                    text = bulk.path.read_text(encoding="ascii")
                    path.write_text(text.replace("2025", str(year)), encoding="ascii")
                run = run_detect("postgresql", f"{year}", url, bulk.__class__(path, bulk.summaries, 0))
                if run.error is not None:
                    raise SystemExit(f"detect failed: {run.error}")
                seconds = run.seconds or 0.0
                sizes = asyncio.run(_sizes(url))
                total = sum(size for _, _, size in sizes)
                rows = [
                    [name, f"{count:,}", f"{size / 2**20:,.1f}", f"{size / args.mentors:,.0f}",
                     f"{size / args.mentors * 1e6 / 2**30:,.2f}"]
                    for name, count, size in sizes
                ]  # fmt: skip
                rows.append(
                    ["total", "", f"{total / 2**20:,.1f}", f"{total / args.mentors:,.0f}",
                     f"{total / args.mentors * 1e6 / 2**30:,.2f}"]
                )  # fmt: skip
                done = 2026 - year
                lines.append(
                    f"\nAfter {done} year(s) per mentor ({args.mentors:,} mentors; this load: "
                    f"{args.mentors / seconds:,.0f} summaries/s in {seconds:,.1f} s):\n"
                )
                lines.append(
                    markdown_table(["table", "rows (estimate)", "MiB", "bytes per mentor", "GiB per 1M mentors"], rows)
                )
                log(lines[-2] + lines[-1])
    finally:
        databases.drop_all()
    print("\n".join(lines))
    print("\nPer million mentors is this load's size scaled linearly (an extrapolation, not a measurement).")


if __name__ == "__main__":
    main()
