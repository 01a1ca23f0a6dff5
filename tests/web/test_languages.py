"""Answers in the client's language: chosen once by the front door, the same from the fast path and the
framework, with Content-Language, Vary and an ETag per language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import publish_catalog, summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
DEFINITIONS = "/api/v1/milestone-definitions"
TAGS = {"en": "en", "es": "es", "fr": "fr", "de": "de", "pt_BR": "pt-BR"}
ALICE_100H = f"{BASE}/alice~100h"


@pytest.fixture
async def both(sqlite_settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Any, Any]]:
    """A client through the fast path and one to a framework-only app, both on the same database. The
    language is chosen and applied above the database, so SQLite alone shows it."""
    async with (
        AsyncTestClient(app=create_app(sqlite_settings, clock=clock)) as fast,
        AsyncTestClient(app=create_app(sqlite_settings, clock=clock, fast_path=False)) as direct,
    ):
        assert (await fast.post(BASE, json=summary_body("alice"))).status_code == 201
        yield fast, direct


@pytest.fixture
async def client(both: tuple[Any, Any]) -> Any:
    return both[0]


def said_in(response: Any, tag: str) -> None:
    assert response.headers["content-language"] == tag
    assert "accept-language" in response.headers.get_list("vary")


async def test_english_by_default_and_exactly_as_before(client: Any) -> None:
    response = await client.get(ALICE_100H)
    body = response.json()
    assert body["name"] == "100 Hours Milestone"
    assert body["accessibility_label"] == "You reached 100 hours of mentoring on December 31, 2025"
    assert body["badge_image_url"] == "/assets/badges/100h.png"
    said_in(response, "en")


@pytest.mark.parametrize(
    ("language", "name", "label"),
    [
        ("es", "Hito de 100 horas", "Alcanzaste 100 horas de mentoría el 31 de diciembre de 2025"),
        ("fr", "Palier de 100 heures", "Vous avez atteint 100 heures de mentorat le 31 décembre 2025"),
        ("de", "100-Stunden-Meilenstein", "Am 31. Dezember 2025 haben Sie 100 Stunden Mentoring erreicht"),
        ("pt_BR", "Marco de 100 horas", "Você alcançou 100 horas de mentoria em 31 de dezembro de 2025"),
    ],
)
async def test_accept_language_words_the_answer(client: Any, language: str, name: str, label: str) -> None:
    response = await client.get(ALICE_100H, headers={"Accept-Language": f"{TAGS[language]}, en;q=0.5"})
    body = response.json()
    assert (body["name"], body["accessibility_label"]) == (name, label)
    assert body["badge_image_url"] == f"/assets/badges/100h.png?locale={TAGS[language]}"
    said_in(response, TAGS[language])


async def test_any_language_ranked_first_is_answered_in_the_default(client: Any) -> None:
    response = await client.get(ALICE_100H, headers={"Accept-Language": "*;q=1, es;q=0.5"})
    assert response.json()["name"] == "100 Hours Milestone"
    said_in(response, "en")


async def test_locale_in_the_query_wins_over_accept_language(client: Any) -> None:
    response = await client.get(f"{ALICE_100H}?locale=fr", headers={"Accept-Language": "de"})
    assert response.json()["name"] == "Palier de 100 heures"
    said_in(response, "fr")


@pytest.mark.parametrize("locale", ["xx", "", "not a locale", "%FF", "es;q=1"])
async def test_a_locale_the_service_does_not_speak_falls_back_to_accept_language(client: Any, locale: str) -> None:
    response = await client.get(f"{ALICE_100H}?locale={locale}", headers={"Accept-Language": "de"})
    assert response.status_code == 200
    said_in(response, "de")
    plain = await client.get(f"{ALICE_100H}?locale={locale}")
    said_in(plain, "en")


async def test_a_language_nobody_speaks_is_answered_in_english(client: Any) -> None:
    response = await client.get(ALICE_100H, headers={"Accept-Language": "it, nl;q=0.5"})
    assert response.json()["name"] == "100 Hours Milestone"
    said_in(response, "en")


async def test_locale_leaves_the_other_parameters_to_validation(client: Any) -> None:
    listing = await client.get(BASE, params={"mentor_id": "alice", "locale": "es", "limit": 2})
    assert listing.status_code == 200 and len(listing.json()["data"]) == 2
    said_in(listing, "es")
    invalid = await client.get(BASE, params={"mentor_id": "alice", "locale": "es", "limit": 0})
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == ["limit"]
    assert "content-language" not in invalid.headers  # problems are in English, whatever was asked


async def test_answers_without_words_carry_no_language(client: Any) -> None:
    periods = await client.get("/api/v1/mentors/alice/periods", headers={"Accept-Language": "es"})
    deleted = await client.delete(f"{BASE}/alice~500h", headers={"Accept-Language": "es"})
    assert periods.status_code == deleted.status_code == 200
    assert "content-language" not in periods.headers and "content-language" not in deleted.headers


async def test_each_language_has_its_own_etag_and_english_keeps_the_bare_version(client: Any) -> None:
    tags = {}
    for language, tag in TAGS.items():
        tags[language] = (await client.get(ALICE_100H, headers={"Accept-Language": tag})).headers["etag"]
    assert len(set(tags.values())) == len(TAGS)
    version = tags["en"].strip('"')
    assert tags["es"] == f'"{version}-es"' and tags["pt_BR"] == f'"{version}-pt-BR"'
    assert len(version) == 24 and int(version, 16) >= 0


async def test_if_match_takes_the_etag_of_any_language(client: Any) -> None:
    seen = (await client.get(ALICE_100H, headers={"Accept-Language": "pt-BR"})).headers["etag"]
    updated = await client.put(
        ALICE_100H, json={"achieved_value": 150}, headers={"If-Match": seen, "Accept-Language": "pt-BR"}
    )
    assert updated.status_code == 200
    assert updated.json()["accessibility_label"] == "Você alcançou 100 horas de mentoria em 31 de dezembro de 2025"
    said_in(updated, "pt-BR")
    assert updated.headers["etag"].endswith('-pt-BR"') and updated.headers["etag"] != seen
    stale = await client.put(ALICE_100H, json={"achieved_value": 160}, headers={"If-Match": seen})
    assert stale.status_code == 412
    english = (await client.get(ALICE_100H)).headers["etag"]
    assert updated.headers["etag"] == english[:-1] + '-pt-BR"'


async def test_post_answers_in_the_language(client: Any) -> None:
    response = await client.post(BASE, json=summary_body("bruno"), headers={"Accept-Language": "es"})
    assert response.status_code == 201
    said_in(response, "es")
    labels = {item["id"]: item["accessibility_label"] for item in response.json()["data"]}
    assert labels["bruno~50contacts"] == "Ayudaste a 47 de 50 contactos únicos, faltan 3"
    assert labels["bruno~500h"] == "Registraste 312,5 de 500 horas de mentoría, faltan 187,5"


# Every operation whose answer has words, through the fast path and the framework, in every language.
WORDED = [
    f"{BASE}?mentor_id=alice",
    f"{BASE}?mentor_id=alice&type=hours_logged&status=in_progress",
    f"{BASE}/alice/in-progress",
    f"{BASE}/alice/in-progress?limit=2&page=2",
    ALICE_100H,
    f"{BASE}/alice/new?year=2025",
    f"{BASE}{BASE}/alice/in-progress",
]


@pytest.mark.parametrize("language", list(TAGS))
@pytest.mark.parametrize("path", WORDED)
@pytest.mark.parametrize("how", ["header", "query"])
async def test_fast_path_and_framework_answer_the_same_bytes_per_language(
    both: tuple[Any, Any], language: str, path: str, how: str
) -> None:
    fast, direct = both
    tag = TAGS[language]
    if how == "header":
        asked: dict[str, Any] = {"headers": {"Accept-Language": f"{tag};q=0.9, it"}}
    else:
        asked = {"params": {"locale": tag}}
    ours, theirs = await fast.get(path, **asked), await direct.get(path, **asked)
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    for header in ("content-language", "vary", "etag", "content-type"):
        assert ours.headers.get_list(header) == theirs.headers.get_list(header), header
    said_in(ours, tag)


async def test_fast_path_and_framework_post_the_same_bytes_per_language(both: tuple[Any, Any]) -> None:
    fast, direct = both
    for language, tag in TAGS.items():
        body = summary_body(f"m_{language}")
        ours = await fast.post(BASE, json=body, headers={"Accept-Language": tag})
        again = await direct.post(BASE, json=body, headers={"Accept-Language": tag})  # the same summary: 200
        assert (ours.status_code, again.status_code) == (201, 200)
        assert ours.content == again.content
        said_in(again, tag)


@pytest.mark.parametrize(
    ("language", "name", "description"),
    [
        ("en", "100 Hours Milestone", "A hundred hours of mentoring: a real commitment to others' growth."),
        ("es", "Hito de 100 horas", "Cien horas de mentoría: un verdadero compromiso con el crecimiento de los demás."),
        (
            "fr",
            "Palier de 100 heures",
            "Cent heures de mentorat\xa0: un véritable engagement pour la progression des autres.",
        ),
        ("de", "100-Stunden-Meilenstein", "Hundert Stunden Mentoring: echtes Engagement für die Entwicklung anderer."),
        ("pt_BR", "Marco de 100 horas", "Cem horas de mentoria: um compromisso real com o crescimento dos outros."),
    ],
)
async def test_definitions_in_each_language(client: Any, language: str, name: str, description: str) -> None:
    response = await client.get(DEFINITIONS, headers={"Accept-Language": TAGS[language]})
    hundred = next(d for d in response.json()["data"] if d["key"] == "100h")
    assert (hundred["name"], hundred["description"]) == (name, description)
    said_in(response, TAGS[language])
    suffix = "" if language == "en" else f"locale={TAGS[language]}"
    assert hundred["badge_image_url"] == "/assets/badges/100h.png" + (f"?{suffix}" if suffix else "")
    assert hundred["badge_locked_image_url"] == "/assets/badges/100h.png?state=locked" + (
        f"&{suffix}" if suffix else ""
    )


async def test_the_definitions_etag_is_per_language_and_304_only_for_its_own(client: Any) -> None:
    english = await client.get(DEFINITIONS)
    spanish = await client.get(DEFINITIONS, headers={"Accept-Language": "es"})
    version = english.json()["catalog_version"]
    assert english.headers["etag"].startswith(f'"{version}.') and english.headers["etag"].endswith('"')
    assert spanish.headers["etag"] == english.headers["etag"][:-1] + '-es"'
    assert spanish.json()["catalog_version"] == version
    revalidated = await client.get(
        DEFINITIONS, headers={"Accept-Language": "es", "If-None-Match": spanish.headers["etag"]}
    )
    assert revalidated.status_code == 304
    said_in(revalidated, "es")
    other = await client.get(DEFINITIONS, headers={"If-None-Match": spanish.headers["etag"]})
    assert other.status_code == 200 and other.json()["data"][0]["name"] == "10 Hours Milestone"


@pytest.mark.parametrize("how", ["header", "query"])
async def test_badges_in_each_language_with_their_own_etag(client: Any, how: str) -> None:
    etags = set()
    for tag in TAGS.values():
        if how == "header":
            response = await client.get("/assets/badges/500activities.svg", headers={"Accept-Language": tag})
        else:
            response = await client.get(f"/assets/badges/500activities.svg?locale={tag}")
        assert response.status_code == 200
        said_in(response, tag)
        etags.add(response.headers["etag"])
        assert response.headers["cache-control"] == "public, max-age=86400"
        again = await client.get(
            f"/assets/badges/500activities.svg?locale={tag}", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304
    assert len(etags) == len(TAGS)
    german = await client.get("/assets/badges/500activities.png?size=128&state=locked&locale=de")
    assert german.status_code == 200 and german.headers["content-type"] == "image/png"
    said_in(german, "de")


async def test_a_badge_url_from_an_answer_draws_the_badge_in_that_language(client: Any) -> None:
    item = (await client.get(ALICE_100H, headers={"Accept-Language": "fr"})).json()
    svg_url = item["badge_image_url"].replace(".png", ".svg")
    assert "HEURES" in (await client.get(svg_url)).text


async def test_a_custom_catalogs_translations_and_their_fallback(
    sqlite_settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[milestone]]\nkey = "first_hour"\nname = "First Hour"\ntype = "hours_logged"\nthreshold = 1\n'
        'description = "Your first hour."\n'
        '[milestone.translations.es]\nname = "Primera hora"\ndescription = "Tu primera hora."\n'
        '[milestone.translations.pt-BR]\nname = "Primeira hora"\n'
        '[[milestone]]\nkey = "ten_hours"\nname = "Ten Hours"\ntype = "hours_logged"\nthreshold = 10\n',
        encoding="utf-8",
    )
    custom = sqlite_settings.model_copy(update={"catalog_path": catalog})
    await publish_catalog(custom, catalog)  # a file is served once published (`milestones catalog publish`)
    async with AsyncTestClient(app=create_app(custom, clock=clock)) as custom_client:
        await custom_client.post(BASE, json=summary_body("carla", hours=5, contacts=0, activities=0))

        async def definitions(tag: str) -> list[tuple[str, str]]:
            body = (await custom_client.get(DEFINITIONS, headers={"Accept-Language": tag})).json()
            return [(d["name"], d["description"]) for d in body["data"]]

        assert await definitions("es") == [
            ("Primera hora", "Tu primera hora."),
            ("Ten Hours", "Registra 10 horas de mentoría."),
        ]
        # A translated name without a description of its own: the English description, which no message
        # catalog knows either.
        assert (await definitions("pt-BR"))[0] == ("Primeira hora", "Your first hour.")
        assert await definitions("de") == [
            ("First Hour", "Your first hour."),
            ("Ten Hours", "Leisten Sie 10 Stunden Mentoring."),
        ]
        names = {
            tag: [
                m["name"]
                for m in (await custom_client.get(f"{BASE}?mentor_id=carla", headers={"Accept-Language": tag})).json()[
                    "data"
                ]
            ]
            for tag in ("en", "es", "fr")
        }
        assert names == {
            "en": ["First Hour", "Ten Hours"],
            "es": ["Primera hora", "Ten Hours"],
            "fr": ["First Hour", "Ten Hours"],
        }
        svg = (await custom_client.get("/assets/badges/first_hour.svg?locale=es")).text
        assert '<title id="title-first_hour-unlocked">Primera hora</title>' in svg and "HORA<" in svg


async def test_an_idempotent_replay_speaks_the_language_it_was_asked_in(client: Any) -> None:
    body = summary_body("dora")
    headers = {"Idempotency-Key": "k-1", "Accept-Language": "de"}
    first = await client.post(BASE, json=body, headers=headers)
    replay = await client.post(BASE, json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    said_in(replay, "de")
    # The same key asking for another language is another request: refused, rather than a German body
    # under a Spanish Content-Language.
    other = await client.post(BASE, json=body, headers={**headers, "Accept-Language": "es"})
    assert other.status_code == 422
    assert "content-language" not in other.headers
