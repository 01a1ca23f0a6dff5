"""The parsing every command shares: one-line usage errors, help with examples, argument types."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from milestones.cli.output import CANNOT_RUN
from milestones.contract import MENTOR_ID_RULE
from milestones.domain import is_mentor_id


class Parser(argparse.ArgumentParser):
    """argparse, with each usage error in one line that points at --help, instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(CANNOT_RUN, f"{self.prog}: {message} (see {self.prog} --help)\n")


def command(commands: Any, name: str, summary: str, description: str, *examples: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=examples_epilog(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def examples_epilog(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to 86400, got {text!r}")
    return value


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return value


def port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def mentor_id(text: str) -> str:
    if not is_mentor_id(text):
        raise argparse.ArgumentTypeError(f"{MENTOR_ID_RULE}, got {text!r}")
    return text
