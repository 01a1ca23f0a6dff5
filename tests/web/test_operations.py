"""Health, readiness, badges, the OpenAPI document and response headers."""

from __future__ import annotations

import io
import sqlite3

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from milestones.settings import Settings
from milestones.web.app import create_app

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def test_liveness_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_readiness_is_503_when_migrations_are_not_current(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "empty.sqlite3"  # type: ignore[operator]
    sqlite3.connect(path).close()
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize("key", ["100h", "300h", "50contacts", "500activities"])
async def test_badges_are_real_pngs(client: Client, key: str) -> None:
    response = await client.get(f"/assets/badges/{key}.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.size == (256, 256)
    # Not blank: a badge has its fill, its ring and white text.
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 10


@pytest.mark.parametrize("name", ["nothing.png", "100h.gif", "100h"])
async def test_unknown_badges_are_404(client: Client, name: str) -> None:
    response = await client.get(f"/assets/badges/{name}")
    assert response.status_code == 404


async def test_security_headers_are_on_every_response(client: Client) -> None:
    for path in ("/healthz", "/api/v1/milestones", "/api/v1/nothing"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


async def test_openapi_documents_every_operation_with_typed_models(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/milestones"]) >= {"get", "post"}
    assert set(paths["/api/v1/milestones/{milestone_id}"]) >= {"get", "put", "delete"}
    assert "get" in paths["/api/v1/milestones/{mentor_id}/in-progress"]
    post = paths["/api/v1/milestones"]["post"]
    assert {"200", "201", "409", "413", "422"} <= set(post["responses"])
    assert "RecordSummaryIn" in str(post["requestBody"])
