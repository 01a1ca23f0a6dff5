"""Loading and validating the milestone catalog."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from milestones.catalog import CatalogError, catalog_version, load_catalog, parse_catalog
from milestones.domain import Definition, MetricType, Tier


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"key": "100h", "name": "100 Hours", "type": "hours_logged", "threshold": 100}
    base.update(changes)
    return base


def test_packaged_catalog_has_the_documented_rungs() -> None:
    by_key = {d.key: d for d in load_catalog()}
    assert (by_key["100h"].type, by_key["100h"].threshold) == (MetricType.HOURS_LOGGED, Decimal(100))
    assert (by_key["300h"].type, by_key["300h"].threshold) == (MetricType.HOURS_LOGGED, Decimal(300))
    assert (by_key["50contacts"].type, by_key["50contacts"].threshold) == (MetricType.CONTACTS_HELPED, Decimal(50))


@pytest.mark.parametrize("metric", list(MetricType))
def test_packaged_catalog_has_at_least_three_rungs_per_type(metric: MetricType) -> None:
    assert sum(1 for d in load_catalog() if d.type is metric) >= 3


def test_packaged_catalog_positions_follow_file_order() -> None:
    catalog = load_catalog()
    raw = tomllib.loads(resources.files("milestones").joinpath("catalog.toml").read_text(encoding="utf-8"))
    assert [d.key for d in catalog] == [m["key"] for m in raw["milestone"]]
    assert [d.position for d in catalog] == list(range(len(catalog)))


def test_load_catalog_reads_a_given_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        """
[[milestone]]
key = "first_5"
name = "Five contacts"
type = "contacts_helped"
threshold = 5

[[milestone]]
key = "half_day"
name = "Twelve and a half hours"
type = "hours_logged"
threshold = 12.5

[[milestone]]
key = "a1"
name = "One activity"
type = "activity_count"
threshold = 1
""",
        encoding="utf-8",
    )
    assert load_catalog(path) == (
        Definition("first_5", "Five contacts", MetricType.CONTACTS_HELPED, Decimal(5), 0),
        Definition("half_day", "Twelve and a half hours", MetricType.HOURS_LOGGED, Decimal("12.5"), 1),
        Definition("a1", "One activity", MetricType.ACTIVITY_COUNT, Decimal(1), 2),
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-file"),
        pytest.param("title = 'nothing here'\n", id="no-milestones"),
        pytest.param("[[milestone]]\nkey = \n", id="not-toml"),
        pytest.param('[[milestone]]\nkey = "A"\nname = "x"\ntype = "hours_logged"\nthreshold = 1\n', id="bad-entry"),
    ],
)
def test_load_catalog_rejects_an_unusable_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError):
        load_catalog(path)


def test_whole_count_thresholds_written_as_decimals_are_accepted() -> None:
    parsed = parse_catalog([entry(type="contacts_helped", threshold=25.0), entry(key="b", type="activity_count")])
    assert parsed[0].threshold == Decimal(25)


def test_parse_catalog_accepts_boundary_values() -> None:
    parsed = parse_catalog([entry(key="k" * 40, threshold=0.01), entry(key="b", threshold=99.99)])
    assert [(d.key, d.threshold) for d in parsed] == [("k" * 40, Decimal("0.01")), ("b", Decimal("99.99"))]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([entry(key="100H")], "key", id="uppercase-key"),
        pytest.param([entry(key="100-h")], "key", id="dash-in-key"),
        pytest.param([entry(key="100 h")], "key", id="space-in-key"),
        pytest.param([entry(key="ä")], "key", id="non-ascii-key"),
        pytest.param([entry(key="")], "key", id="empty-key"),
        pytest.param([entry(key="k" * 41)], "key", id="key-too-long"),
        pytest.param([entry(key=100)], "key", id="key-not-a-string"),
        pytest.param([{k: v for k, v in entry().items() if k != "key"}], "key", id="key-missing"),
        pytest.param([entry(), entry(name="again", threshold=200)], "twice", id="duplicate-key"),
        pytest.param([entry(name="")], "name", id="empty-name"),
        pytest.param([entry(name="   ")], "name", id="blank-name"),
        pytest.param([entry(name=5)], "name", id="name-not-a-string"),
        pytest.param([entry(type="minutes")], "type", id="unknown-type"),
        pytest.param([entry(type="HOURS_LOGGED")], "type", id="type-wrong-case"),
        pytest.param([entry(threshold=0)], "above 0", id="zero-threshold"),
        pytest.param([entry(threshold=-5)], "above 0", id="negative-threshold"),
        pytest.param([entry(threshold=True)], "above 0", id="boolean-threshold"),
        pytest.param([entry(threshold="100")], "above 0", id="string-threshold"),
        pytest.param([entry(threshold=1.005)], "decimal places", id="three-decimal-places"),
        pytest.param([entry(threshold=0.001)], "decimal places", id="tiny-threshold"),
        pytest.param([], "no milestones", id="empty-catalog"),
        pytest.param([entry(type="contacts_helped", threshold=12.5)], "whole number", id="fractional-contacts"),
        pytest.param([entry(type="activity_count", threshold=10.01)], "whole number", id="fractional-activities"),
        pytest.param([entry(tier="copper")], "tier", id="unknown-tier"),
        pytest.param([entry(tier="Gold")], "tier", id="tier-wrong-case"),
        pytest.param([entry(description="")], "description", id="empty-description"),
        pytest.param([entry(description=7)], "description", id="description-not-a-string"),
        pytest.param([entry(description="x" * 301)], "description", id="description-too-long"),
    ],
)
def test_parse_catalog_rejects(entries: list[dict[str, object]], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(entries)


@pytest.mark.parametrize("threshold", [float("inf"), float("nan"), 1e30])
def test_parse_catalog_rejects_unbounded_thresholds(threshold: float) -> None:
    entry = {"key": "k", "name": "K", "type": "hours_logged", "threshold": threshold}
    with pytest.raises(CatalogError, match="threshold"):
        parse_catalog([entry])


def test_every_packaged_definition_has_a_description_and_a_tier() -> None:
    for d in load_catalog():
        assert d.description and d.tier is not None, d.key


def test_description_and_tier_are_optional() -> None:
    plain, full = parse_catalog(
        [entry(key="a"), entry(key="b", threshold=200, tier="gold", description="  Well done.  ")]
    )
    assert (plain.description, plain.tier) == (None, None)
    assert (full.description, full.tier) == ("Well done.", Tier.GOLD)


def test_the_catalog_version_is_a_hash_of_its_content_not_its_layout(tmp_path: Path) -> None:
    packaged = resources.files("milestones").joinpath("catalog.toml").read_text(encoding="utf-8")
    relaid = tmp_path / "relaid.toml"
    relaid.write_text("# comments and spacing only\n\n" + packaged.replace(" = ", "="), encoding="utf-8")
    version = catalog_version(load_catalog())
    assert catalog_version(load_catalog(relaid)) == version
    assert len(version) == 16 and int(version, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Renamed"},
        {"threshold": 101},
        {"tier": "silver"},
        {"description": "Another sentence."},
        {"type": "activity_count"},
        {"key": "other"},
    ],
)
def test_the_catalog_version_changes_with_any_field(change: dict[str, object]) -> None:
    base = [entry(tier="gold", description="A sentence."), entry(key="b", threshold=200)]
    changed = [{**base[0], **change}, base[1]]
    assert catalog_version(parse_catalog(changed)) != catalog_version(parse_catalog(base))


def test_the_catalog_version_follows_the_order() -> None:
    first, second = entry(key="a"), entry(key="b", threshold=200)
    assert catalog_version(parse_catalog([first, second])) != catalog_version(parse_catalog([second, first]))


def test_translations_give_a_name_and_optionally_a_description_per_language() -> None:
    (item,) = parse_catalog(
        [
            entry(
                translations={
                    "es": {"name": " Cien horas ", "description": "Cien horas dedicadas."},
                    "pt-BR": {"name": "Cem horas"},  # written as a language tag, or as pt_BR
                }
            )
        ]
    )
    assert [(t.language, t.name, t.description) for t in item.translations] == [
        ("es", "Cien horas", "Cien horas dedicadas."),
        ("pt_BR", "Cem horas", None),
    ]
    assert item.translation("pt_BR") is not None and item.translation("fr") is None


def test_translations_are_read_from_the_toml_tables(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[[milestone]]\nkey = "night"\nname = "Night Owl"\ntype = "hours_logged"\nthreshold = 5\n'
        '[milestone.translations.fr]\nname = "Oiseau de nuit"\ndescription = "Cinq heures après la nuit tombée."\n'
        '[milestone.translations.de]\nname = "Nachteule"\n',
        encoding="utf-8",
    )
    (item,) = load_catalog(path)
    assert {t.language: t.name for t in item.translations} == {"de": "Nachteule", "fr": "Oiseau de nuit"}


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        ({"it": {"name": "Cento ore"}}, "translations.it: not a language the service speaks"),
        ({"es": {"description": "Sin nombre."}}, "translations.es.name must be a non-empty string"),
        ({"es": {"name": "  "}}, "translations.es.name must be a non-empty string"),
        ({"es": {"name": "Cien", "description": "x" * 301}}, "translations.es.description must be"),
        (
            {"es": {"name": "Cien", "title": "Cien"}},
            "translations.es: 'title' is not a field a catalog knows here (it knows name or description)",
        ),
        ({"es": "Cien horas"}, "translations.es must be a table"),
        ({"es": {"name": "Cien"}, "ES": {"name": "Cien"}}, "translations name es twice"),
        ("es", "translations must be a table of languages"),
    ],
)
def test_bad_translations_are_refused_at_start_up(translations: object, message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_catalog([entry(translations=translations)])


def test_translations_change_the_catalog_version_and_their_absence_does_not() -> None:
    plain = catalog_version(parse_catalog([entry()]))
    assert catalog_version(parse_catalog([entry(translations={})])) == plain
    spanish = catalog_version(parse_catalog([entry(translations={"es": {"name": "Cien horas"}})]))
    renamed = catalog_version(parse_catalog([entry(translations={"es": {"name": "Cien horas."}})]))
    assert len({plain, spanish, renamed}) == 3


def test_every_problem_is_listed_in_plain_words() -> None:
    with pytest.raises(CatalogError) as refused:
        parse_catalog(
            [
                entry(key="a", type="minutes", colour="red"),
                entry(key="b", threshold=100),
                entry(key="c", threshold=100.0, tier="copper"),
            ]
        )
    assert refused.value.problems == [
        "catalog, milestone #1: 'colour' is not a field a catalog knows here (it knows key, name, type, threshold, "
        "description, tier, translations or criteria)",
        "catalog, milestone #1: type must be hours_logged, contacts_helped or activity_count, got 'minutes'",
        "catalog, milestone #3: tier must be bronze, silver, gold, platinum or diamond, got 'copper'",
        "catalog, milestone #3: hours_logged threshold 100 is already milestone #2 (b); two milestones of one "
        "type cannot share a threshold",
    ]


def test_a_top_level_version_is_allowed_and_anything_else_is_not(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    one = '[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n'
    path.write_text('version = "2027.1"\n' + one, encoding="utf-8")
    assert [d.key for d in load_catalog(path)] == ["a"]
    path.write_text('title = "Ours"\n' + one, encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    assert refused.value.problems == [
        f"{path}: 'title' is not a field a catalog knows here (it knows milestone or version)"
    ]
