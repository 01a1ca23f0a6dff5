"""Settings and the catalog as commands read them: a bad one stops the command with one line."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from milestones.catalog import CatalogError, CatalogVersion, catalog_of, load_catalog_file
from milestones.cli.output import CommandError, one_line
from milestones.ops import traces
from milestones.settings import Settings


def read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise CommandError(f"invalid configuration: {configuration_errors(exc)}") from None


def configuration_errors(exc: ValidationError) -> str:
    """Each bad setting as its environment variable and the reason in plain words (not pydantic's), on one
    line; never the value given, which may be a key or a password."""
    return "; ".join(
        f"MILESTONES_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: {_plain(error)}"
        for error in exc.errors()
    )


# Settings whose form is a pattern, in words (the pattern itself is no help to a person).
_FORMS = {"root_path": "must be empty or a path such as /milestones (segments of letters, digits and . _ ~ -)"}


def _plain(error: ErrorDetails) -> str:
    kind, context = error["type"], error.get("ctx", {})
    name = str(error["loc"][0]) if error["loc"] else ""
    field = Settings.model_fields.get(name)
    if kind == "value_error":  # the settings' own validators, already in plain words
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "enum"):
        return f"must be {str(context.get('expected', '')).replace(chr(39), '')}"
    if kind.startswith("bool_"):
        return "must be true or false"
    if kind == "string_too_short":
        return f"must be at least {context['min_length']} characters"
    if kind == "string_too_long":
        return f"must be at most {context['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return _FORMS.get(name, "is not in the form this setting takes")
    if field is not None and field.annotation in (int, float):
        return _number_rule(field.annotation is int, field.metadata)
    return "is not valid"


def _number_rule(whole: bool, constraints: list[Any]) -> str:
    """What a numeric setting must be, from its Field bounds: "must be a whole number from 1 to 200"."""
    bounds = {name: getattr(c, name) for c in constraints for name in ("ge", "gt", "le") if hasattr(c, name)}
    shown = {name: f"{value:,g}" if isinstance(value, float) else f"{value:,}" for name, value in bounds.items()}
    noun = "a whole number" if whole else "a number"
    low = f"from {shown['ge']}" if "ge" in shown else f"above {shown['gt']}" if "gt" in shown else ""
    if low and "le" in shown:
        return (
            f"must be {noun} {low} to {shown['le']}"
            if "ge" in shown
            else f"must be {noun} {low}, at most {shown['le']}"
        )
    if low:
        return f"must be {noun} {low}" if "gt" in shown else f"must be {noun} of {shown['ge']} or more"
    return f"must be {noun}"


def read_catalog(settings: Settings) -> CatalogVersion:
    """The configured catalog file (MILESTONES_CATALOG_PATH) or the packaged one, as the version it would be
    published as; the service serves the latest stored version, and this one only on a database with none."""
    try:
        read = load_catalog_file(settings.catalog_path)
        return catalog_of(read.definitions, read.version)
    except (CatalogError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"invalid catalog: {one_line(str(exc))}") from None


def check_traces() -> None:
    """Traces asked for by the OTEL_* variables but unable to start stop the command with one line."""
    try:
        traces.check()
    except traces.TracingUnavailable as exc:
        raise CommandError(str(exc)) from None


def start_traces() -> bool:
    """Start exporting this process's traces when the OTEL_* variables ask for them; whether it did."""
    check_traces()
    if not traces.configured():
        return False
    traces.start()
    return True
