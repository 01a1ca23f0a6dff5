"""Loads the milestone definitions from the packaged catalog file or one named by configuration."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path

from milestones.domain import Definition, MetricType, Tier, Translation, is_definition_key
from milestones.languages import ENGLISH, languages

# Keeps thresholds (stored as hundredths) well inside a 64-bit integer; rejects inf and nan too.
MAX_THRESHOLD = 1_000_000_000_000
MAX_DESCRIPTION = 300
_TIERS = [t.value for t in Tier]


class CatalogError(ValueError):
    """The catalog file cannot be used; raised at start-up, never per request."""


def load_catalog(path: Path | None = None) -> tuple[Definition, ...]:
    """Read and validate a catalog; without a path, the one shipped with the package."""
    if path is None:
        text = resources.files("milestones").joinpath("catalog.toml").read_text(encoding="utf-8")
        source = "the packaged catalog"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        entries = tomllib.loads(text).get("milestone", [])
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: {exc}") from exc
    return parse_catalog(entries, source)


def parse_catalog(entries: list[dict[str, object]], source: str = "catalog") -> tuple[Definition, ...]:
    definitions: list[Definition] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        where = f"{source}, milestone #{position + 1}"
        key, name, metric, threshold = (entry.get(f) for f in ("key", "name", "type", "threshold"))
        if not isinstance(key, str) or not is_definition_key(key):
            raise CatalogError(f"{where}: key must be 1-40 of a-z, 0-9 and _, got {key!r}")
        if key in seen:
            raise CatalogError(f"{where}: key {key!r} appears twice")
        if not isinstance(name, str) or not name.strip():
            raise CatalogError(f"{where}: name must be a non-empty string")
        if metric not in {m.value for m in MetricType}:
            raise CatalogError(f"{where}: type must be one of {[m.value for m in MetricType]}")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= MAX_THRESHOLD:
            raise CatalogError(f"{where}: threshold must be a number above 0 and at most {MAX_THRESHOLD:,}")
        value = Decimal(str(threshold))
        if value != value.quantize(Decimal("0.01")):
            raise CatalogError(f"{where}: threshold has more than 2 decimal places")
        if metric != MetricType.HOURS_LOGGED.value and value != value.to_integral_value():
            # Contacts and activities are counted in whole numbers: a fractional threshold means a mistake.
            raise CatalogError(f"{where}: a {metric} threshold must be a whole number, got {threshold}")
        description, tier = entry.get("description"), entry.get("tier")
        if description is not None and (
            not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION
        ):
            raise CatalogError(
                f"{where}: description must be a non-empty string of at most {MAX_DESCRIPTION} characters"
            )
        if tier is not None and tier not in _TIERS:
            raise CatalogError(f"{where}: tier must be one of {_TIERS}, got {tier!r}")
        seen.add(key)
        definitions.append(
            Definition(
                key,
                name.strip(),
                MetricType(metric),
                value,
                position,
                description=None if description is None else description.strip(),
                tier=None if tier is None else Tier(tier),
                translations=parse_translations(entry.get("translations", {}), where),
            )
        )
    if not definitions:
        raise CatalogError(f"{source}: defines no milestones")
    return tuple(definitions)


def parse_translations(table: object, where: str) -> tuple[Translation, ...]:
    """A definition's `[milestone.translations.<locale>]` tables: a name, and optionally a description, in
    each of the languages the service speaks."""
    if not isinstance(table, dict):
        raise CatalogError(f"{where}: translations must be a table of languages")
    spoken = {language.lower().replace("_", "-"): language for language in languages() if language != ENGLISH}
    found: list[Translation] = []
    for locale, words in table.items():
        language = spoken.get(str(locale).lower().replace("_", "-"))
        if language is None:
            raise CatalogError(
                f"{where}: translations.{locale}: not a language the service speaks ({', '.join(sorted(spoken))})"
            )
        if not isinstance(words, dict):
            raise CatalogError(f"{where}: translations.{locale} must be a table with name and description")
        name, description = words.get("name"), words.get("description")
        unknown = sorted(set(words) - {"name", "description"})
        if unknown:
            raise CatalogError(f"{where}: translations.{locale} has unknown fields {unknown}")
        if not isinstance(name, str) or not name.strip():
            raise CatalogError(f"{where}: translations.{locale}.name must be a non-empty string")
        if description is not None and (
            not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION
        ):
            raise CatalogError(
                f"{where}: translations.{locale}.description must be a non-empty string of at most "
                f"{MAX_DESCRIPTION} characters"
            )
        if any(t.language == language for t in found):
            raise CatalogError(f"{where}: translations name {language} twice")
        found.append(Translation(language, name.strip(), None if description is None else description.strip()))
    return tuple(sorted(found, key=lambda t: t.language))


def catalog_version(definitions: Sequence[Definition]) -> str:
    """A content hash of the catalog: the same definitions in the same order give the same version, whatever
    the file's comments or layout."""
    content: list[list[object]] = [
        [d.key, d.name, d.description, d.type.value, format(d.threshold.normalize(), "f"), d.tier and d.tier.value]
        for d in definitions
    ]
    for entry, d in zip(content, definitions, strict=True):
        if d.translations:  # only then, so that the versions of catalogs without translations stay as they were
            entry.append([[t.language, t.name, t.description] for t in d.translations])
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:16]
