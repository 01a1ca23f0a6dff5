"""Loads the milestone definitions from the packaged catalog file or one named by configuration."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from milestones.domain import Definition, MetricType, Tier, Translation, is_definition_key
from milestones.wording.languages import ENGLISH, languages

# Keeps thresholds (stored as hundredths) well inside a 64-bit integer; rejects inf and nan too.
MAX_THRESHOLD = 1_000_000_000_000
MAX_DESCRIPTION = 300
_TIERS = [t.value for t in Tier]


class CatalogError(ValueError):
    """The catalog file cannot be used; raised at start-up, never per request. `problems` lists every reason,
    each naming where in the file it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# What a catalog may hold; anything else is a mistake (a misspelt field would otherwise be ignored in silence).
# A top-level `version` names the version `milestones catalog publish` stores (else its content hash does).
_TOP_LEVEL = ("milestone", "version")
# A version is named in URLs (`?version=`) and on the command line: a short, plain word.
VERSION_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_VERSION = re.compile(VERSION_PATTERN)


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """A catalog file as read: its definitions and the version it names for itself (None: its content hash)."""

    definitions: tuple[Definition, ...]
    version: str | None = None

    @property
    def named_version(self) -> str:
        """The version it is published as: its own `version`, or its content hash."""
        return self.version if self.version is not None else catalog_version(self.definitions)


def is_version(value: str) -> bool:
    """1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit."""
    return _VERSION.fullmatch(value) is not None


_FIELDS = ("key", "name", "type", "threshold", "description", "tier", "translations", "criteria")
_TRANSLATION_FIELDS = ("name", "description")


def load_catalog(path: Path | None = None) -> tuple[Definition, ...]:
    """Read and validate a catalog's definitions; without a path, the one shipped with the package."""
    return load_catalog_file(path).definitions


def load_catalog_file(path: Path | None = None) -> CatalogFile:
    """Read and validate a catalog file and the version it names; without a path, the packaged one."""
    if path is None:
        text = resources.files("milestones").joinpath("catalog.toml").read_text(encoding="utf-8")
        source = "the packaged catalog"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"{source}: {exc}"]) from exc
    problems = [f"{source}: {_unknown(name, _TOP_LEVEL)}" for name in document if name not in _TOP_LEVEL]
    version = document.get("version")
    if version is not None and (not isinstance(version, str) or not is_version(version)):
        problems.append(
            f"{source}: version must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            f"got {version!r}"
        )
    entries = document.get("milestone", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise CatalogError([*problems, f"{source}: each milestone must be a [[milestone]] table"])
    try:
        definitions = parse_catalog(entries, source)
    except CatalogError as exc:
        problems.extend(exc.problems)
    if problems:
        raise CatalogError(problems)
    return CatalogFile(definitions, version if isinstance(version, str) else None)


def parse_catalog(entries: list[dict[str, object]], source: str = "catalog") -> tuple[Definition, ...]:
    """The definitions of a catalog's entries; CatalogError listing every problem, not only the first."""
    definitions: list[Definition] = []
    problems: list[str] = []
    keys: dict[str, int] = {}
    rungs: dict[tuple[str, Decimal], tuple[int, object]] = {}
    for position, entry in enumerate(entries):
        where = f"{source}, milestone #{position + 1}"
        found = [_unknown(name, _FIELDS) for name in entry if name not in _FIELDS]
        key, name, metric, threshold = (entry.get(f) for f in ("key", "name", "type", "threshold"))
        if key is None:
            found.append("key is missing")
        elif not isinstance(key, str) or not is_definition_key(key):
            found.append(f"key must be 1 to 40 lowercase letters (a-z), digits or _, got {key!r}")
        elif key in keys:
            found.append(f"key {key!r} appears twice (first as milestone #{keys[key] + 1})")
        if name is None:
            found.append("name is missing")
        elif not isinstance(name, str) or not name.strip():
            found.append("name must be a non-empty string")
        if metric is None:
            found.append(f"type is missing: give {_either(_METRICS)}")
        elif metric not in _METRICS:
            found.append(f"type must be {_either(_METRICS)}, got {metric!r}")
        value = _threshold(threshold, metric, found)
        description, tier = entry.get("description"), entry.get("tier")
        if description is not None and (
            not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION
        ):
            found.append(f"description must be a non-empty string of at most {MAX_DESCRIPTION} characters")
        if tier is not None and tier not in _TIERS:
            found.append(f"tier must be {_either(_TIERS)}, got {tier!r}")
        criteria = entry.get("criteria")
        if criteria is not None and (
            not isinstance(criteria, str) or not criteria.strip() or len(criteria) > MAX_DESCRIPTION
        ):
            found.append(f"criteria must be a non-empty string of at most {MAX_DESCRIPTION} characters")
        if value is not None and isinstance(metric, str) and metric in _METRICS:
            rung = (metric, value)
            if rung in rungs:
                first, first_key = rungs[rung]
                found.append(
                    f"{metric} threshold {value.normalize():f} is already milestone #{first + 1} ({first_key}); "
                    "two milestones of one type cannot share a threshold"
                )
            else:
                rungs[rung] = (position, key)
        translations = _translations(entry.get("translations", {}), found)
        problems.extend(f"{where}: {problem}" for problem in found)
        if isinstance(key, str) and key not in keys:
            keys[key] = position
        if found or not isinstance(key, str) or not isinstance(name, str) or value is None:
            continue
        definitions.append(
            Definition(
                key,
                name.strip(),
                MetricType(str(metric)),
                value,
                position,
                description=None if description is None else str(description).strip(),
                tier=None if tier is None else Tier(str(tier)),
                translations=translations,
                criteria=None if criteria is None else str(criteria).strip(),
            )
        )
    if not entries:
        problems.append(f"{source}: defines no milestones")
    if problems:
        raise CatalogError(problems)
    return tuple(definitions)


_METRICS = [m.value for m in MetricType]


def _either(choices: Sequence[str]) -> str:
    """`a`, `a or b`, `a, b or c`: a list of choices as a sentence says it."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _unknown(name: str, known: Sequence[str]) -> str:
    return f"{name!r} is not a field a catalog knows here (it knows {_either(known)})"


def _threshold(threshold: object, metric: object, found: list[str]) -> Decimal | None:
    """A definition's threshold as a Decimal, or None with the reason added to `found`."""
    if threshold is None:
        found.append("threshold is missing")
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= MAX_THRESHOLD:
        found.append(f"threshold must be a number above 0 and at most {MAX_THRESHOLD:,}")
        return None
    value = Decimal(str(threshold))
    if value != value.quantize(Decimal("0.01")):
        found.append("threshold has more than 2 decimal places")
        return None
    if metric != MetricType.HOURS_LOGGED.value and value != value.to_integral_value():
        # Contacts and activities are counted in whole numbers: a fractional threshold means a mistake.
        found.append(f"a {metric} threshold must be a whole number, got {threshold}")
        return None
    return value


def _translations(table: object, found: list[str]) -> tuple[Translation, ...]:
    """A definition's `[milestone.translations.<locale>]` tables: a name, and optionally a description, in
    each of the languages the service speaks; each problem is added to `found`."""
    if not isinstance(table, dict):
        found.append("translations must be a table of languages")
        return ()
    spoken = {language.lower().replace("_", "-"): language for language in languages() if language != ENGLISH}
    translations: list[Translation] = []
    for locale, words in table.items():
        language = spoken.get(str(locale).lower().replace("_", "-"))
        if language is None:
            found.append(f"translations.{locale}: not a language the service speaks ({', '.join(sorted(spoken))})")
            continue
        if not isinstance(words, dict):
            found.append(f"translations.{locale} must be a table with name and description")
            continue
        name, description = words.get("name"), words.get("description")
        found.extend(
            f"translations.{locale}: {_unknown(field, _TRANSLATION_FIELDS)}"
            for field in words
            if field not in _TRANSLATION_FIELDS
        )
        if not isinstance(name, str) or not name.strip():
            found.append(f"translations.{locale}.name must be a non-empty string")
            continue
        if description is not None and (
            not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION
        ):
            found.append(
                f"translations.{locale}.description must be a non-empty string of at most {MAX_DESCRIPTION} characters"
            )
            continue
        if any(t.language == language for t in translations):
            found.append(f"translations name {language} twice")
            continue
        translations.append(Translation(language, name.strip(), None if description is None else description.strip()))
    return tuple(sorted(translations, key=lambda t: t.language))


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
        if d.criteria is not None:  # likewise: catalogs without criteria keep their versions
            entry.append(["criteria", d.criteria])
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:16]
