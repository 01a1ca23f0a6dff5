"""Catalog versions: a catalog as it is stored (its definitions as JSON), every version kept, and what changed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from milestones.catalog.files import catalog_version
from milestones.domain import Definition, MetricType, Tier, Translation


@dataclass(frozen=True, slots=True)
class CatalogVersion:
    """One stored version of the catalog: its name (the file's `version`, or its content hash), its definitions
    in catalog order, their content hash, and when it was published (None: not stored yet)."""

    version: str
    definitions: tuple[Definition, ...]
    content_hash: str
    published_at: datetime | None = None
    by_key: dict[str, Definition] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_key.update((d.key, d) for d in self.definitions)


def catalog_of(definitions: Sequence[Definition], version: str | None = None) -> CatalogVersion:
    """A catalog's version as it would be published: named `version`, or by its content hash."""
    content_hash = catalog_version(definitions)
    return CatalogVersion(version or content_hash, tuple(definitions), content_hash)


def content_of(definitions: Sequence[Definition]) -> str:
    """The definitions as the database stores them: JSON, thresholds as text so that no digit is lost."""
    return json.dumps([_definition_json(d) for d in definitions], ensure_ascii=False, separators=(",", ":"))


def definitions_of(content: str) -> tuple[Definition, ...]:
    """The definitions `content_of` stored, in catalog order (positions from 0)."""
    return tuple(
        Definition(
            entry["key"],
            entry["name"],
            MetricType(entry["type"]),
            Decimal(entry["threshold"]),
            position,
            description=entry.get("description"),
            tier=None if entry.get("tier") is None else Tier(entry["tier"]),
            translations=tuple(
                Translation(t["language"], t["name"], t.get("description")) for t in entry.get("translations", ())
            ),
            criteria=entry.get("criteria"),
        )
        for position, entry in enumerate(json.loads(content))
    )


def _definition_json(d: Definition) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": d.key, "name": d.name, "type": d.type.value, "threshold": f"{d.threshold:f}"}
    if d.description is not None:
        entry["description"] = d.description
    if d.tier is not None:
        entry["tier"] = d.tier.value
    if d.criteria is not None:
        entry["criteria"] = d.criteria
    if d.translations:
        entry["translations"] = [
            {
                "language": t.language,
                "name": t.name,
                **({} if t.description is None else {"description": t.description}),
            }
            for t in d.translations
        ]
    return entry


def drawn_alike(a: Definition, b: Definition) -> bool:
    """Whether two definitions of a key read and draw the same (their place in the catalog aside)."""
    return replace(a, position=0) == replace(b, position=0)


class CatalogVersions:
    """Every stored version, the latest last: what a record decided under any of them is shown with."""

    def __init__(self, versions: Iterable[CatalogVersion]) -> None:
        self.all = tuple(versions)
        if not self.all:
            raise ValueError("a catalog has at least one version")
        self.latest = self.all[-1]
        # Most records are of the latest version: presenters compare with this before asking `shown_version`.
        self.latest_version = self.latest.version
        self._named = {v.version: v for v in self.all}

    def get(self, version: str) -> CatalogVersion | None:
        return self._named.get(version)

    def definition(self, version: str | None, key: str) -> Definition | None:
        """The definition of `key` in `version`; else (an unknown version, or a key it lacks) the newest one
        that defines the key, so that a record always has the words and badge of the rung it was earned on."""
        named = None if version is None else self._named.get(version)
        if named is not None:
            found = named.by_key.get(key)
            if found is not None:
                return found
        for candidate in reversed(self.all):
            found = candidate.by_key.get(key)
            if found is not None:
                return found
        return None

    def shown_version(self, version: str | None, key: str) -> str | None:
        """The version a record's badge URL names: its own where that defines the key otherwise than the latest
        (a retired rung, an older threshold), else None (the latest's badge is the same picture)."""
        if version is None or version == self.latest.version:
            return None
        named = self._named.get(version)
        own = None if named is None else named.by_key.get(key)
        if own is None:
            return None
        latest = self.latest.by_key.get(key)
        return None if latest is not None and drawn_alike(own, latest) else version


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    """How one key differs between two versions: added, removed, or changed (with the fields that changed)."""

    key: str
    kind: str  # "added", "removed" or "changed"
    before: Definition | None
    after: Definition | None
    fields: tuple[str, ...] = ()


_COMPARED = ("name", "type", "threshold", "tier", "description", "translations", "position")


def diff(before: CatalogVersion, after: CatalogVersion) -> list[DefinitionChange]:
    """What changed from `before` to `after`: removed keys (in `before`'s order), then added and changed ones
    (in `after`'s order). A key that only moved in the catalog counts as changed, in `position`."""
    changes = [DefinitionChange(d.key, "removed", d, None) for d in before.definitions if d.key not in after.by_key]
    for d in after.definitions:
        old = before.by_key.get(d.key)
        if old is None:
            changes.append(DefinitionChange(d.key, "added", None, d))
            continue
        moved = tuple(name for name in _COMPARED if getattr(old, name) != getattr(d, name))
        if moved:
            changes.append(DefinitionChange(d.key, "changed", old, d, moved))
    return changes
