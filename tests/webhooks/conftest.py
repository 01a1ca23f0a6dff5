"""Fixtures for webhook tests: the service on each database with private addresses allowed, a receiver, a loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta

import pytest

from milestones.catalog import load_catalog
from milestones.domain.webhooks import RetrySchedule
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.webhooks.delivery import DeliveryLoop, DeliveryOptions
from tests.webhook_receiver import Receiver, receiving

# Retries in tens of milliseconds, so that a test sees a whole schedule.
FAST = RetrySchedule(base=timedelta(milliseconds=40), factor=2, retry_for=timedelta(seconds=30))


def options(**overrides: object) -> DeliveryOptions:
    values: dict[str, object] = {"timeout": 2.0, "poll": 0.02, "allow_private": True, "schedule": FAST}
    values.update(overrides)
    return DeliveryOptions(**values)  # type: ignore[arg-type]


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[MilestoneService]:
    opened = await MilestoneService.open(settings.model_copy(update={"webhook_allow_private": True}), load_catalog())
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver()) as running:
        yield running


Until = Callable[[Callable[[], Awaitable[bool]]], Awaitable[None]]


@pytest.fixture
async def running_loop(service: MilestoneService) -> AsyncIterator[Callable[..., DeliveryLoop]]:
    """Starts delivery loops on the service (with `options`), each stopped at the end of the test."""
    started: list[tuple[DeliveryLoop, asyncio.Task[None]]] = []

    def start(**overrides: object) -> DeliveryLoop:
        loop = service.delivery_loop(options(**overrides))
        started.append((loop, asyncio.create_task(loop.run())))
        return loop

    yield start
    for loop, _ in started:
        loop.stop()
    await asyncio.gather(*(task for _, task in started), return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait until `check` holds (the loop works on its own time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)
