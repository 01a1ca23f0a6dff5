"""Values every worker reads again from the database at most every half second: the live keys, the catalog.

A process keeps what it read last and asks again on the next use after `REFRESH_SECONDS`, so that something
changed by any process or host (a key revoked, a catalog version published) takes effect in every worker
within a second, for the price of one clock reading per use in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

REFRESH_SECONDS = 0.5

T = TypeVar("T")


class Fresh(Generic[T]):
    """A value read with `load` again when the last reading is older than `REFRESH_SECONDS`; until `attach`
    gives it a way to read, the value it was made with. Concurrent users share one reading, and an error in
    reading reaches them all (the next use tries again)."""

    def __init__(self, value: T, load: Callable[[], Awaitable[T]] | None = None) -> None:
        self.value = value
        self._load = load
        self._loaded_at = float("-inf")
        self._loading: asyncio.Task[T] | None = None

    def attach(self, load: Callable[[], Awaitable[T]]) -> None:
        """Read with `load` from now on (called once the database is open)."""
        self._load = load
        self._loaded_at = float("-inf")

    def expire(self) -> None:
        """Read again on the next use, however recent the last reading."""
        self._loaded_at = float("-inf")

    @property
    def due(self) -> bool:
        """Whether the next use reads again: a caller on a hot path asks this before awaiting `current`."""
        return self._load is not None and time.monotonic() - self._loaded_at >= REFRESH_SECONDS

    async def current(self) -> T:
        load = self._load
        if load is None or time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return self.value
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._reload(load))
        loading = self._loading
        try:
            return await asyncio.shield(loading)
        finally:
            if self._loading is loading and loading.done():
                self._loading = None

    async def _reload(self, load: Callable[[], Awaitable[T]]) -> T:
        started = time.monotonic()
        self.value = await load()
        self._loaded_at = started
        return self.value
