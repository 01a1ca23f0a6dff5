"""What every command shares in what it says: exit statuses, the one-line error, printable URLs."""

from __future__ import annotations

from decimal import Decimal

from milestones.wording.languages import ENGLISH, Plural, plural_category

# Exit statuses: everything went in; some lines were rejected; nothing could be done (a bad option, file,
# configuration or catalog, or a database that cannot be reached); stopped by Ctrl-C (128 + SIGINT, as shells).
OK, REJECTED, CANNOT_RUN, INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """A reason the command cannot go on, said in one line; `main` prints it and exits with `status`."""

    def __init__(self, message: str, status: int = CANNOT_RUN) -> None:
        super().__init__(message)
        self.status = status


def counted(count: int, one: str, other: str) -> str:
    """A count and the words after it in the form CLDR's plural rules give it, as labels do: "1 summary
    stored", "2 summaries stored" (commands speak English)."""
    return f"{count:,} {Plural(one, other).source(plural_category(Decimal(count), ENGLISH))}"


def one_line(text: str) -> str:
    return " ".join(text.split())
