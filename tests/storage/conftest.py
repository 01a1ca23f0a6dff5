"""Fixtures for storage tests: an open repository on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from milestones.settings import Settings
from milestones.storage import MilestoneRepository, open_repository


@pytest.fixture
async def repository(settings: Settings) -> AsyncIterator[MilestoneRepository]:
    repo = await open_repository(settings)
    try:
        yield repo
    finally:
        await repo.close()
