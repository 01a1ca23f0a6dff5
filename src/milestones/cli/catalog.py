"""`milestones catalog check`: validate a catalog file and print its ladder."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from milestones.catalog import CatalogError, load_catalog
from milestones.cli.arguments import command
from milestones.cli.output import OK, REJECTED, CommandError, counted, one_line
from milestones.domain import Definition, MetricType


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


def run_catalog_check(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.is_dir():
        raise CommandError(f"{path}: is a directory; give a catalog file (TOML)")
    try:
        definitions = load_catalog(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: is not UTF-8 text, so not a catalog", REJECTED) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from None
    except CatalogError as exc:
        for problem in exc.problems:  # every one, each on a line of its own
            print(f"milestones: invalid catalog: {one_line(problem)}", file=sys.stderr)
        return REJECTED
    print(f"{path}: a valid catalog of {counted(len(definitions), 'milestone', 'milestones')}")
    print("\n".join(ladder_lines(definitions)))
    return OK


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
