"""One stored catalog, in versions, over HTTP: workers started with different files agree, a published version is
served everywhere within a second, and a milestone of a retired or changed rung still renders everywhere."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from litestar.testing import AsyncTestClient

from milestones.catalog import catalog_of, load_catalog_file
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.database_contents import events_settled
from tests.factories import publish_catalog, summary_body

pytestmark = pytest.mark.anyio

BASE = "/api/v1/milestones"
DEFINITIONS = "/api/v1/milestone-definitions"
PACKAGED = resources.files("milestones").joinpath("catalog.toml").read_text(encoding="utf-8")
Client = AsyncTestClient[FrontDoor]


def catalog_file(tmp_path: Path, name: str, *, replace: tuple[str, str] | None = None, drop: str | None = None) -> Path:
    """The packaged catalog with one threshold line replaced, or one rung (by key) left out."""
    text = PACKAGED
    if replace is not None:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    if drop is not None:
        entries = text.split("[[milestone]]")
        text = "[[milestone]]".join(e for e in entries if f'key = "{drop}"\n' not in e)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# The 50-hour rung raised to 60, as a platform changing its ladder would.
RAISED_50H = ('threshold = 50\ntier = "silver"', 'threshold = 60\ntier = "silver"')
RAISED_10H = (
    'threshold = 10\ntier = "bronze"\ndescription = "Ten hours',
    'threshold = 20\ntier = "bronze"\ndescription = "Ten hours',
)


def version_of(path: Path) -> str:
    read = load_catalog_file(path)
    return catalog_of(read.definitions, read.version).version


async def in_progress_threshold(client: Client, mentor: str, key: str) -> float:
    listed = (await client.get(f"{BASE}/{mentor}/in-progress")).json()["data"]
    return float(next(m["threshold"] for m in listed if m["id"] == f"{mentor}~{key}"))


async def test_two_workers_started_with_different_catalog_files_agree(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    """The defect: each worker decided with its own file, so the same summary flipped the 50-hour rung's threshold
    on every POST and each answered 201. Now both serve the one stored version."""
    other = settings.model_copy(update={"catalog_path": catalog_file(tmp_path, "raised", replace=RAISED_50H)})
    body = summary_body("ada", hours=30, contacts=0, activities=0)
    async with (
        AsyncTestClient(app=create_app(settings, clock=clock)) as first,
        AsyncTestClient(app=create_app(other, clock=clock)) as second,
    ):
        assert (await first.post(BASE, json=body)).status_code == 201
        assert (await second.post(BASE, json=body)).status_code == 200
        assert (await first.post(BASE, json=body)).status_code == 200
        assert (
            await in_progress_threshold(first, "ada", "50h") == await in_progress_threshold(second, "ada", "50h") == 50
        )
        versions = {(await c.get(DEFINITIONS)).json()["catalog_version"] for c in (first, second)}
    assert versions == {version_of(Path(str(resources.files("milestones").joinpath("catalog.toml"))))}


async def test_a_published_version_is_served_by_every_worker_within_a_second(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    raised = catalog_file(tmp_path, "raised", replace=RAISED_50H)
    async with (
        AsyncTestClient(app=create_app(settings, clock=clock)) as first,
        AsyncTestClient(app=create_app(settings, clock=clock)) as second,
    ):
        before = (await first.get(DEFINITIONS)).json()["catalog_version"]
        await second.get(DEFINITIONS)
        await publish_catalog(settings, raised)
        published_at = time.monotonic()
        # A write right after publishing, before this worker read the catalog again, is decided under the new
        # version all the same: its transaction finds the version moved and decides again.
        assert (await first.post(BASE, json=summary_body("ada", hours=30, contacts=0, activities=0))).status_code == 201
        assert await in_progress_threshold(first, "ada", "50h") == 60
        served: dict[int, float] = {}
        while len(served) < 2 and time.monotonic() - published_at < 2:
            for number, client in enumerate((first, second)):
                if number not in served and (await client.get(DEFINITIONS)).json()["catalog_version"] != before:
                    served[number] = time.monotonic() - published_at
            await anyio.sleep(0.02)
    assert set(served) == {0, 1}
    assert max(served.values()) < 1.0, served


async def test_a_milestone_of_a_changed_then_retired_rung_renders_everywhere(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        first = (await client.get(DEFINITIONS)).json()["catalog_version"]
        await client.post(BASE, json=summary_body("ada", hours=15, contacts=0, activities=0))

        # The 10-hour rung raised to 20: the milestone earned at 10 keeps its threshold, and its badge names the
        # version it was earned under, which draws 10.
        await publish_catalog(settings, catalog_file(tmp_path, "raised", replace=RAISED_10H))
        await anyio.sleep(0.6)
        ten = (await client.get(f"{BASE}/ada~10h")).json()
        assert (ten["status"], ten["threshold"]) == ("achieved", 10)
        url = urlsplit(ten["badge_image_url"])
        assert parse_qs(url.query) == {"version": [first]}
        drawn = await client.get(url.path.replace(".png", ".svg"), params={"version": first})
        assert drawn.status_code == 200
        assert ">10</text>" in drawn.text
        assert ">20</text>" in (await client.get("/assets/badges/10h.svg")).text
        assert (await client.get(url.path + "?" + url.query)).headers["content-type"] == "image/png"

        # Then retired: no version but the first defines it now, and the page, card, card image, list and badge
        # all still show it (the card image answered 500 before, a KeyError).
        await publish_catalog(settings, catalog_file(tmp_path, "retired", drop="10h"))
        await anyio.sleep(0.6)
        latest = (await client.get(DEFINITIONS)).json()
        assert "10h" not in {d["key"] for d in latest["data"]}
        for path in ("/mentors/ada", "/mentors/ada/card", "/mentors/ada/card.svg"):
            answer = await client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert "10 Hours Milestone" in answer.text, path
        assert ">10</text>" in (await client.get("/mentors/ada/card.svg")).text
        listed = (await client.get(BASE, params={"mentor_id": "ada", "status": "achieved"})).json()["data"]
        (retired,) = [m for m in listed if m["id"] == "ada~10h"]
        assert retired["name"] == "10 Hours Milestone"
        badge = urlsplit(retired["badge_image_url"])
        assert parse_qs(badge.query) == {"version": [first]}
        assert (await client.get(badge.path + "?" + badge.query)).status_code == 200
        # In another language too: its name comes from its own version's translations.
        spanish = (await client.get(f"{BASE}/ada~10h", params={"locale": "es"})).json()
        assert spanish["name"] != "" and "version=" in spanish["badge_image_url"]


async def test_definitions_show_their_version_and_read_an_earlier_one(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    raised = catalog_file(tmp_path, "raised", replace=RAISED_50H)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        first = (await client.get(DEFINITIONS)).json()
        await publish_catalog(settings, raised)
        await anyio.sleep(0.6)
        latest = await client.get(DEFINITIONS)
        assert latest.json()["catalog_version"] == version_of(raised)
        assert latest.headers["etag"].startswith(f'"{version_of(raised)}.')
        earlier = await client.get(DEFINITIONS, params={"version": first["catalog_version"]})
        assert earlier.status_code == 200
        assert earlier.json() == first
        assert earlier.headers["etag"].startswith(f'"{first["catalog_version"]}.')
        unknown = await client.get(DEFINITIONS, params={"version": "no-such-version"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert "no-such-version" in unknown.json()["detail"]
        bad = await client.get(DEFINITIONS, params={"version": "not a version!"})
        assert bad.status_code in (400, 422)
        assert [e["field"] for e in bad.json()["errors"]] == ["version"]


async def test_events_render_a_retired_rungs_milestone_from_its_own_version(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        first = (await client.get(DEFINITIONS)).json()["catalog_version"]
        await client.post(BASE, json=summary_body("ada", hours=15, contacts=0, activities=0))
        await publish_catalog(settings, catalog_file(tmp_path, "retired", drop="10h"))
        await anyio.sleep(0.6)
        await events_settled(settings)  # PostgreSQL's feed answers only below its horizon
        feed = (await client.get("/api/v1/events", params={"mentor_id": "ada"})).json()["data"]
    (achieved,) = [e for e in feed if e["subject"] == "ada~10h"]
    assert achieved["data"]["catalog_version"] == first
    assert achieved["data"]["milestone"]["name"] == "10 Hours Milestone"
    assert achieved["data"]["milestone"]["threshold"] == 10
