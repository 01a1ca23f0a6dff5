"""`milestones catalog check | publish | versions | diff`: catalog files checked, published as the stored
catalog's next version, the versions listed, and two of them compared."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from milestones.catalog import (
    CatalogError,
    CatalogFile,
    CatalogVersion,
    DefinitionChange,
    catalog_of,
    diff,
    load_catalog_file,
)
from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database
from milestones.cli.output import OK, REJECTED, CommandError, counted, one_line
from milestones.cli.reevaluate import run_reevaluation
from milestones.domain import Definition, MetricType
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import MilestoneRepository

T = TypeVar("T")


def add_catalog(commands: Any) -> None:
    catalog = command(
        commands,
        "catalog",
        "work with milestone catalogs",
        "Work with catalogs of milestone definitions (TOML, as the packaged one; MILESTONES_CATALOG_PATH\n"
        "selects the one the service uses).",
        "milestones catalog check my-catalog.toml",
    )
    actions = catalog.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = command(
        actions,
        "check",
        "validate a catalog and print its ladder",
        "Validate a catalog file and print its ladder: for each type, the thresholds in order with their keys\n"
        "and names. Exit status 0 when it is valid, 1 when it is not (every reason, one line each), 2 when the\n"
        "file cannot be read.",
        "milestones catalog check my-catalog.toml",
        "milestones catalog check src/milestones/catalog.toml",
    )
    check.add_argument("file", type=Path, help="the catalog file (TOML) to check")
    check.set_defaults(run=run_catalog_check)
    publish = command(
        actions,
        "publish",
        "validate a catalog and store it as the latest version",
        "Validate a catalog file and store it in the database as the latest version, named by the file's\n"
        "top-level `version` (or its content hash). Every worker and host serves it within a second; records\n"
        "keep the version they were decided under. Nothing is stored when the latest version holds the same\n"
        "definitions. Exit status 0 when published or already the latest, 1 when it is invalid or its version\n"
        "name is taken by other definitions, 2 when the file or the database cannot be read. --dry-run stores\n"
        "nothing: it prints what `milestones reevaluate` would change under the file's catalog.",
        "milestones catalog publish --dry-run my-catalog.toml",
        "milestones catalog publish my-catalog.toml && milestones reevaluate",
    )
    publish.add_argument("file", type=Path, help="the catalog file (TOML) to publish")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="store nothing; print what re-evaluating every mentor under this catalog would change",
    )
    publish.set_defaults(run=run_catalog_publish)
    versions = command(
        actions,
        "versions",
        "list the stored catalog versions",
        "List the stored catalog versions, oldest first: name, when published, content hash and number of\n"
        "milestones; the latest, which every worker serves, is marked.",
        "milestones catalog versions",
    )
    versions.set_defaults(run=run_catalog_versions)
    compared = command(
        actions,
        "diff",
        "show what changed between two stored versions",
        "Show what changed from version A to version B: milestones removed (-), added (+) and changed (~,\n"
        "with each changed field's value before and after). Exit status 0, or 2 for a version not stored.",
        "milestones catalog diff 2026-01 2026-06",
    )
    compared.add_argument("a", metavar="A", help="the earlier version, as `catalog versions` names it")
    compared.add_argument("b", metavar="B", help="the later version")
    compared.set_defaults(run=run_catalog_diff)


def run_catalog_check(args: argparse.Namespace) -> int:
    path: Path = args.file
    read = _read_file(path)
    if read is None:
        return REJECTED
    definitions = read.definitions
    print(f"{path}: a valid catalog of {counted(len(definitions), 'milestone', 'milestones')}")
    print("\n".join(ladder_lines(definitions)))
    return OK


def _read_file(path: Path) -> CatalogFile | None:
    """The file's catalog; None (each problem printed on a line of its own) when it is invalid."""
    if path.is_dir():
        raise CommandError(f"{path}: is a directory; give a catalog file (TOML)")
    try:
        return load_catalog_file(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: is not UTF-8 text, so not a catalog", REJECTED) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from None
    except CatalogError as exc:
        for problem in exc.problems:  # every one, each on a line of its own
            print(f"milestones: invalid catalog: {one_line(problem)}", file=sys.stderr)
        return None


def run_catalog_publish(args: argparse.Namespace) -> int:
    path: Path = args.file
    read = _read_file(path)
    if read is None:
        return REJECTED
    settings = read_settings()
    require_database(settings)
    if args.dry_run:
        unpublished = catalog_of(read.definitions, read.version)

        async def file_catalog(_: MilestoneRepository) -> CatalogVersion:
            return unpublished

        print(f"{path}: not published (dry run); re-evaluating every mentor under it:")
        return run_reevaluation(args, file_catalog)
    published = asyncio.run(
        _with_service(settings, lambda s: s.publish_catalog(catalog_of(read.definitions, read.version)))
    )
    stored = published.catalog
    if published.new:
        size = counted(len(stored.definitions), "milestone", "milestones")
        print(f"published {path} as version {stored.version} ({size}); every worker serves it within a second")
        return OK
    assert published.reason is not None
    if stored.content_hash != catalog_of(read.definitions).content_hash:
        raise CommandError(f"{path}: not published: {published.reason}", REJECTED)
    print(f"{path}: nothing to publish: {published.reason}")
    return OK


_WHEN = "%Y-%m-%dT%H:%M:%SZ"


def run_catalog_versions(args: argparse.Namespace) -> int:
    settings = read_settings()
    require_database(settings)
    versions = asyncio.run(_with_service(settings, lambda s: s.catalog_versions()))
    width = max(len("version"), *(len(v.version) for v in versions))
    print(f"{'version':<{width}}  published             content hash      milestones")
    for stored in versions:
        # UTC with a Z: twenty characters, the column's width.
        when = "-" if stored.published_at is None else stored.published_at.astimezone(UTC).strftime(_WHEN)
        latest = "  (latest)" if stored is versions[-1] else ""
        print(
            f"{stored.version:<{width}}  {when:<20}  {stored.content_hash:<16}  {len(stored.definitions):>10}{latest}"
        )
    return OK


def run_catalog_diff(args: argparse.Namespace) -> int:
    settings = read_settings()
    require_database(settings)
    versions = {v.version: v for v in asyncio.run(_with_service(settings, lambda s: s.catalog_versions()))}
    unknown = [name for name in (args.a, args.b) if name not in versions]
    if unknown:
        raise CommandError(
            f"no stored catalog version {' or '.join(repr(n) for n in unknown)} (stored: {', '.join(versions)})"
        )
    changes = diff(versions[args.a], versions[args.b])
    if not changes:
        print(f"versions {args.a} and {args.b} define the same milestones")
        return OK
    for change in changes:
        print(diff_line(change))
    return OK


def diff_line(change: DefinitionChange) -> str:
    """One line of a diff: `- key`, `+ key` with the rung, or `~ key` with each field before and after."""
    if change.kind == "removed":
        assert change.before is not None
        return f"- {change.key}: removed ({_rung(change.before)})"
    if change.kind == "added":
        assert change.after is not None
        return f"+ {change.key}: added ({_rung(change.after)})"
    assert change.before is not None
    assert change.after is not None
    moved = "; ".join(
        f"{name} {_shown(getattr(change.before, name))} -> {_shown(getattr(change.after, name))}"
        for name in change.fields
    )
    return f"~ {change.key}: {moved}"


def _rung(d: Definition) -> str:
    return f"{d.name!r}, {d.type.value} {d.threshold.normalize():f}"


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ", ".join(f"{t.language}: {t.name!r}" for t in value) or "none"
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


async def _with_service(settings: Settings, work: Callable[[MilestoneService], Awaitable[T]]) -> T:
    service = await MilestoneService.open(settings, read_catalog(settings))
    try:
        return await work(service)
    finally:
        await service.close()


def ladder_lines(definitions: Iterable[Definition]) -> list[str]:
    """Each type's rungs in the order a mentor reaches them: threshold, key and name."""
    by_type: dict[MetricType, list[Definition]] = {}
    for definition in definitions:
        by_type.setdefault(definition.type, []).append(definition)
    lines = []
    for metric, rungs in by_type.items():
        lines.append(f"{metric.value}:")
        ordered = sorted(rungs, key=lambda d: (d.threshold, d.position))
        width = max(len(f"{d.threshold.normalize():,f}") for d in ordered)
        key_width = max(len(d.key) for d in ordered)
        lines.extend(f"  {d.threshold.normalize():>{width},f}  {d.key:<{key_width}}  {d.name}" for d in ordered)
    return lines
