"""Settings and the catalog as commands read them: a bad one stops the command with one line."""

from __future__ import annotations

from pydantic import ValidationError

from milestones.catalog import CatalogError, load_catalog
from milestones.cli.output import CommandError, one_line
from milestones.domain import Definition
from milestones.settings import Settings


def read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise CommandError(f"invalid configuration: {configuration_errors(exc)}") from None


def configuration_errors(exc: ValidationError) -> str:
    """Each bad setting as its environment variable and the reason, on one line; never the value given, which
    may be a key or a password."""
    return "; ".join(
        f"MILESTONES_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: "
        f"{error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )


def read_catalog(settings: Settings) -> tuple[Definition, ...]:
    try:
        return load_catalog(settings.catalog_path)
    except (CatalogError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"invalid catalog: {one_line(str(exc))}") from None
