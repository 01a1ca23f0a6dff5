"""The app with an issuer configured, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock

ISSUER = {
    "issuer_id": "https://platform.example.org/issuer",
    "issuer_name": "Example Mentoring",
    "issuer_url": "https://platform.example.org",
    "public_url": "https://milestones.example.org",
}


@pytest.fixture
def issuing_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=ISSUER)


@pytest.fixture
async def issuing(issuing_settings: Settings, clock: FakeClock) -> AsyncIterator[AsyncTestClient[FrontDoor]]:
    async with AsyncTestClient(app=create_app(issuing_settings, clock=clock)) as test_client:
        yield test_client
