"""The `milestones` command: serve the API, migrate, detect in bulk, export, check a catalog, load a demo, keys,
signed page links,
prune history, erase a mentor, manage webhooks, re-evaluate after a catalog change."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from milestones import __version__
from milestones.cli.arguments import Parser, examples_epilog
from milestones.cli.catalog import add_catalog
from milestones.cli.credentials import add_credential_commands
from milestones.cli.demo import add_demo
from milestones.cli.detect import add_detect
from milestones.cli.erase import add_erase
from milestones.cli.export import add_export
from milestones.cli.keys import add_key_commands
from milestones.cli.migrate import add_migrate
from milestones.cli.output import CANNOT_RUN, INTERRUPTED, REJECTED, CommandError, one_line
from milestones.cli.page_link import add_page_link
from milestones.cli.prune import add_prune
from milestones.cli.reevaluate import add_reevaluate
from milestones.cli.report import add_report
from milestones.cli.serve import add_serve
from milestones.cli.webhooks import add_webhook_commands
from milestones.errors import MilestonesError
from milestones.ops.logs import redacted


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` and return its exit status. Every error is one line on standard error."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except CommandError as exc:
        print(f"milestones: {redacted(str(exc))}", file=sys.stderr)
        return exc.status
    except MilestonesError as exc:  # a database that is down or busy, mostly
        print(f"milestones: {redacted(one_line(exc.detail))}", file=sys.stderr)
        return CANNOT_RUN
    except KeyboardInterrupt:
        print("milestones: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`milestones export | head`): nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return REJECTED
    except Exception as exc:  # the last resort: still one line, never a traceback
        print(f"milestones: unexpected error: {type(exc).__name__}: {redacted(one_line(str(exc)))}", file=sys.stderr)
        return CANNOT_RUN


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="milestones",
        description="Detects, stores and serves mentoring milestones. Settings come from MILESTONES_* variables.",
        epilog=examples_epilog(
            "milestones serve --port 8000",
            "milestones demo && milestones export --mentor demo_ada",
            "milestones detect summaries.jsonl",
            "milestones detect --help",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"milestones {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve(commands)
    add_migrate(commands)
    add_detect(commands)
    add_export(commands)
    add_report(commands)
    add_catalog(commands)
    add_reevaluate(commands)
    add_demo(commands)
    add_key_commands(commands)
    add_page_link(commands)
    add_prune(commands)
    add_erase(commands)
    add_webhook_commands(commands)
    add_credential_commands(commands)
    return parser
