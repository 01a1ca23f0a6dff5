"""Catalog versions as stored: their content read back whole, what a record's version shows, and diffs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from milestones.catalog import CatalogVersions, catalog_of, content_of, definitions_of, diff, load_catalog
from milestones.domain import Definition, MetricType, Tier, Translation
from tests.factories import definition, ladder


def test_content_reads_back_the_same_definitions_translations_and_all() -> None:
    translated = Definition(
        "half",
        "Half a day",
        MetricType.HOURS_LOGGED,
        Decimal("12.5"),
        0,
        description="Twelve and a half hours.",
        tier=Tier.GOLD,
        translations=(Translation("es", "Medio día", "Doce horas y media."), Translation("fr", "Demi-journée")),
    )
    for catalog in (load_catalog(), (translated, *ladder()[1:])):
        positioned = tuple(replace(d, position=i) for i, d in enumerate(catalog))
        assert definitions_of(content_of(catalog)) == positioned
        assert catalog_of(definitions_of(content_of(catalog))).content_hash == catalog_of(catalog).content_hash


def test_a_record_shows_its_own_versions_rung_and_names_the_version_only_where_it_differs() -> None:
    first = catalog_of(ladder(), "v1")
    raised = tuple(definition("300h", MetricType.HOURS_LOGGED, 350, 1) if d.key == "300h" else d for d in ladder())
    second = catalog_of([d for d in raised if d.key != "100h"], "v2")
    versions = CatalogVersions([first, second])
    assert versions.latest is second
    # Retired in v2: its own version's rung, and the newest that defines it for an unknown version.
    assert versions.definition("v1", "100h") == first.by_key["100h"]
    assert versions.definition("nope", "100h") == first.by_key["100h"]
    assert versions.definition("v2", "100h") == first.by_key["100h"]
    assert versions.definition("v1", "never") is None
    assert versions.shown_version("v1", "100h") == "v1"  # retired
    assert versions.shown_version("v1", "300h") == "v1"  # another threshold
    assert versions.shown_version("v1", "500h") is None  # the same picture in both
    assert versions.shown_version("v2", "300h") is None  # the latest
    assert versions.shown_version(None, "300h") is None


def test_diff_lists_removed_then_added_and_changed_fields() -> None:
    first = catalog_of(ladder(), "v1")
    changed = [replace(d, name="Three hundred") if d.key == "300h" else d for d in ladder() if d.key != "500h"] + [
        definition("1000h", MetricType.HOURS_LOGGED, 1000, 6)
    ]
    second = catalog_of(changed, "v2")
    found = [(c.key, c.kind, c.fields) for c in diff(first, second)]
    assert found == [
        ("500h", "removed", ()),
        ("300h", "changed", ("name",)),
        ("1000h", "added", ()),
    ]
    assert diff(first, first) == []
