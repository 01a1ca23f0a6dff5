"""Every test that needs PostgreSQL carries the `postgres` marker, so `-m "not postgres"` runs without a server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import BEHIND_HAPROXY


def needs_postgres(item: pytest.Item) -> bool:
    fixtures: list[str] = getattr(item, "fixturenames", [])
    params: dict[str, Any] = getattr(getattr(item, "callspec", None), "params", {})
    return (
        any("postgres" in name for name in fixtures)
        or any(value == "postgres" or (isinstance(value, list) and "--postgres" in value) for value in params.values())
        # Several hosts behind the balancer share one PostgreSQL database.
        or BEHIND_HAPROXY in params.values()
        or item.path.name in ("test_database_faults.py", "test_broken_connections.py")
    )


def test_every_postgresql_test_is_marked(request: pytest.FixtureRequest) -> None:
    items = request.session.items  # the whole suite in a full run, as in CI
    postgres = [item for item in items if needs_postgres(item)]
    if len(items) > 100:
        assert len(postgres) > 100, "the suite's PostgreSQL tests were not recognised"
    unmarked = [item.nodeid for item in postgres if item.get_closest_marker("postgres") is None]
    assert unmarked == []
    marked_but_not_postgres = [
        item.nodeid for item in items if item.get_closest_marker("postgres") and not needs_postgres(item)
    ]
    assert marked_but_not_postgres == []
