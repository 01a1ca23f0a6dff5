"""Who may do what: the scope each request needs, and the live keys it is checked against.

The front door asks `AccessPolicy.check` about every request before either path sees it, with the access its
route declares (web/route_table.py). Keys come from
MILESTONES_API_KEYS and from the database (`milestones keys create`); the stored ones are read again at most
`REFRESH_SECONDS` after the last reading, on the next request that needs a key (`ops.freshness.Fresh`, as the
catalog is), so a key revoked by any process stops working in every worker within a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from milestones.access.keys import AccessKey, KeyRing, Scope
from milestones.errors import KeyRequired, ScopeRequired
from milestones.ops.freshness import REFRESH_SECONDS, Fresh
from milestones.web.route_table import Access

__all__ = ["REFRESH_SECONDS", "AccessPolicy", "bearer_of", "needed_scope"]

LoadKeys = Callable[[Sequence[AccessKey]], Awaitable[KeyRing]]


def needed_scope(access: Access, *, read_requires_key: bool, metrics_requires_key: bool | None = None) -> Scope | None:
    """The scope a route's policy asks of a request once keys exist, or None when anyone may call it. The
    metrics need a read key when `metrics_requires_key` says so, and by default (None) when reads do.

    Public routes describe the service; a page opened from a link is let through to its own signed-link
    check (web/pages.py), since a browser following a link cannot send a key.
    """
    if access is Access.WRITE:
        return Scope.WRITE
    if access is Access.READ:
        return Scope.READ if read_requires_key else None
    if access is Access.METRICS:
        keyed = read_requires_key if metrics_requires_key is None else metrics_requires_key
        return Scope.READ if keyed else None
    if access is Access.ADMIN:
        return Scope.ADMIN
    return None


def bearer_of(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive), or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


class AccessPolicy:
    """Decides whether a request may go on, and as whom (the actor its changes record)."""

    def __init__(
        self, from_settings: Sequence[AccessKey], *, read_requires_key: bool, metrics_requires_key: bool | None = None
    ) -> None:
        self._from_settings = tuple(from_settings)
        self.read_requires_key = read_requires_key
        self.metrics_requires_key = metrics_requires_key
        # What anyone may call whatever keys exist: the front door lets these through without asking `check`.
        self.open_to_all = frozenset(a for a in Access if self._scope(a) is None)
        # Until the database is open (start-up), only the settings' keys are known.
        self._ring = Fresh(KeyRing.of(self._from_settings))

    def attach(self, load: LoadKeys) -> None:
        """Read stored keys with `load` from now on (called once the database is open)."""
        from_settings = self._from_settings
        self._ring.attach(lambda: load(from_settings))

    async def ring(self) -> KeyRing:
        """The current keys, read again from the database when the last reading is older than REFRESH_SECONDS.

        Concurrent requests share one reading. When the database cannot be read, the error propagates (a 503
        problem): a revoked key must not keep working because the database is away.
        """
        return await self._ring.current()

    async def keys_exist(self) -> bool:
        """Whether any key was ever set up: from then on writes need one (the OpenAPI document says so too)."""
        return (await self.ring()).configured

    def _scope(self, access: Access) -> Scope | None:
        return needed_scope(
            access, read_requires_key=self.read_requires_key, metrics_requires_key=self.metrics_requires_key
        )

    async def check(self, access: Access, headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
        """The id of the key the request presented (None without one), and whether the answer needed a key.

        Raises KeyRequired or ScopeRequired when the request may not go on.
        """
        scope = self._scope(access)
        if scope is None:
            return None, False
        ring = await self.ring()
        if scope is Scope.ADMIN and not any(key.scope >= Scope.ADMIN for key in ring.keys.values()):
            # Writes may be open while no key exists; what only an administrator may do never is.
            raise ScopeRequired(
                "This needs a key with the admin scope, and none exists yet: create one with "
                "`milestones keys create --name NAME --scope admin`."
            )
        if not ring.configured:
            return None, False
        token = bearer_of(headers)
        key = None if token is None else ring.find(token)
        if key is None:
            if token is None:
                raise KeyRequired("Send a valid access key as `Authorization: Bearer <key>`.", presented=False)
            raise KeyRequired("The access key is not valid: it is unknown or was revoked.", presented=True)
        if key.scope < scope:
            raise ScopeRequired(f"This needs a key with the {scope.label} scope; this key has {key.scope.label}.")
        return key.id, True
