"""`milestones reevaluate`: every stored mentor decided again under the latest catalog version, or a dry run of it;
also the dry run `milestones catalog publish --dry-run` prints."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

from milestones.catalog import CatalogVersion
from milestones.cli.arguments import at_least_one, command, mentor_id
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database, with_repository
from milestones.cli.output import INTERRUPTED, OK, REJECTED, CommandError, counted
from milestones.domain.reevaluation import Policy
from milestones.errors import CatalogMoved
from milestones.reevaluation.batches import ReevaluationReport, reevaluate_stored
from milestones.service import utc_now
from milestones.storage import MilestoneRepository
from milestones.storage.base import latest_catalog


def add_reevaluate(commands: Any) -> None:
    reevaluate = command(
        commands,
        "reevaluate",
        "apply the latest catalog version to every stored mentor",
        "Decide every stored mentor's milestones again under the latest catalog version (`milestones catalog\n"
        "publish`), in one transaction per batch: rungs the version added are achieved where the stored values\n"
        "reach them (dated as detection dates them) or become the next rung in progress, and in-progress records\n"
        "move to the new next rung. History records each change with the cause `reevaluation`. Mentors already\n"
        "decided under the latest version are skipped, so a run that was interrupted continues where it stopped.\n"
        "\n"
        "--policy keep (the default) leaves achieved milestones achieved where a raised threshold is no longer\n"
        "met: they keep the version they were earned under. --policy recompute revokes them (the reason\n"
        "'threshold raised'); what a person set stays. --dry-run prints what would change and changes nothing.\n"
        "\n"
        "exit status: 0 done (or nothing to do); 1 nothing is stored about the --mentor; 2 nothing could be done\n"
        "(a bad option, no database, the catalog changed during the run); 130 interrupted.",
        "milestones reevaluate --dry-run",
        "milestones reevaluate",
        "milestones reevaluate --mentor m_1042",
    )
    reevaluate.add_argument("--mentor", type=mentor_id, metavar="ID", help="only this mentor")
    reevaluate.add_argument(
        "--policy",
        choices=[p.value for p in Policy],
        default=Policy.KEEP.value,
        help="what becomes of achieved milestones a raised threshold no longer supports (default keep)",
    )
    reevaluate.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    reevaluate.add_argument(
        "--batch-size", type=at_least_one, default=5000, metavar="N", help="mentors per transaction (default 5000)"
    )
    reevaluate.add_argument(
        "--notify",
        action="store_true",
        help="push the run's events to webhooks (by default they are recorded quietly: the feed shows them)",
    )
    reevaluate.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    reevaluate.set_defaults(run=run_reevaluate)


def run_reevaluate(args: argparse.Namespace) -> int:
    policy = Policy(args.policy)
    settings = read_settings()
    configured = read_catalog(settings)
    require_database(settings)

    async def latest(repository: MilestoneRepository) -> CatalogVersion:
        if args.dry_run:
            return await _stored(repository)
        return await latest_catalog(repository, configured, utc_now())

    return run_reevaluation(args, latest, policy)


async def _stored(repository: MilestoneRepository) -> CatalogVersion:
    """The latest stored version, read only (a dry run stores nothing, not even a first version)."""
    versions = await repository.catalog_versions()
    if not versions:
        raise CommandError("no catalog version is stored yet: run `milestones migrate` (or serve) first")
    return versions[-1][1]


def run_reevaluation(
    args: argparse.Namespace,
    catalog_of: Callable[[MilestoneRepository], Awaitable[CatalogVersion]],
    policy: Policy = Policy.KEEP,
) -> int:
    """Run (or dry-run) a re-evaluation under the catalog `catalog_of(repository)` answers, with its progress on a
    terminal, and print its summary. `catalog publish --dry-run` calls this with the file's catalog."""
    settings = read_settings()
    mentor: str | None = getattr(args, "mentor", None)
    dry_run: bool = args.dry_run
    committed = ReevaluationReport("", dry_run)
    with ExitStack() as stack:
        shown = _Progress(stack, dry_run)

        def progress(report: ReevaluationReport) -> None:
            nonlocal committed
            committed = dataclasses.replace(report)
            shown.update(report)

        async def work(repository: MilestoneRepository) -> ReevaluationReport:
            catalog = await catalog_of(repository)
            return await reevaluate_stored(
                repository,
                catalog,
                utc_now(),
                policy=policy,
                mentor_id=mentor,
                dry_run=dry_run,
                batch_size=getattr(args, "batch_size", 5000),
                notify=getattr(args, "notify", False),
                progress=progress,
            )

        try:
            report = asyncio.run(with_repository(settings, work))
        except CatalogMoved as exc:
            raise CommandError(
                f"the catalog changed while re-evaluating (version {exc.latest} was published); "
                f"{counted(committed.mentors, 'mentor was', 'mentors were')} committed under the one before. Run "
                "reevaluate again to continue under the new version"
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                f"interrupted; {counted(committed.mentors, 'mentor was', 'mentors were')} re-evaluated before it "
                "stopped. Run it again to continue: mentors already done are skipped",
                INTERRUPTED,
            ) from None
    if mentor is not None and report.mentors == 0:
        raise CommandError(f"nothing is stored about mentor {mentor!r}", REJECTED)
    print(json.dumps(dataclasses.asdict(report)) if getattr(args, "json", False) else describe(report))
    return OK


def describe(report: ReevaluationReport) -> str:
    """The summary of a run: its counts, and in a dry run the transitions by kind and a sample of mentors."""
    would = "would change" if report.dry_run else "changed"
    lines = [
        f"{'dry run, nothing changed: ' if report.dry_run else ''}version {report.version}: "
        f"{counted(report.mentors, 'mentor', 'mentors')} re-evaluated, "
        f"{counted(report.skipped, 'mentor', 'mentors')} already at this version skipped; "
        f"{counted(report.mentors_changed, 'mentor', 'mentors')} {would}; "
        f"{counted(report.grandfathered, 'achieved milestone', 'achieved milestones')} kept below a raised threshold "
        f"({report.seconds:,.1f} s)"
    ]
    if report.transitions:
        lines.append(
            "transitions: " + ", ".join(f"{kind} {count:,}" for kind, count in sorted(report.transitions.items()))
        )
    if report.dry_run and report.sample:
        lines.append("for example:")
        lines.extend(f"  {mentor}: {', '.join(moves)}" for mentor, moves in report.sample)
    return "\n".join(lines)


class _Progress:
    """On a terminal, the mentors re-evaluated so far and the rate, redrawn once per batch; elsewhere nothing."""

    def __init__(self, stack: ExitStack, dry_run: bool) -> None:
        from rich.console import Console

        console = Console(stderr=True, highlight=False, soft_wrap=True)
        self._bar: Any = None
        self._started = time.perf_counter()
        if console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = stack.enter_context(
                Progress(
                    SpinnerColumn(),
                    TextColumn("[bold]reevaluate[/]" + (" (dry run)" if dry_run else "")),
                    TextColumn("{task.fields[mentors]:,} mentors, {task.fields[rate]:,.0f} mentors/s"),
                    TimeElapsedColumn(),
                    console=console,
                    auto_refresh=False,
                    transient=False,
                )
            )
            self._task = self._bar.add_task("reevaluate", total=None, mentors=0, rate=0.0)

    def update(self, report: ReevaluationReport) -> None:
        if self._bar is None:
            return
        done = report.mentors + report.skipped
        elapsed = max(time.perf_counter() - self._started, 1e-6)
        self._bar.update(self._task, mentors=done, rate=done / elapsed)
        self._bar.refresh()
