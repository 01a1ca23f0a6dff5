"""Erasing a mentor: the salted hash that stands for them afterwards, and the change that removes them."""

from __future__ import annotations

import hashlib
import hmac

from milestones.domain.changes import Actor, Cause, Change, Step

# What a mentor's salted hash starts with, so that nobody mistakes it for an id.
HASH_PREFIX = "hmac-sha256:"


def mentor_hash(mentor_id: str, salt: str) -> str:
    """The salted hash that names an erased mentor (history's erasure entry, and the events' `mentor.erased`).

    HMAC-SHA256 keyed with the salt: the same mentor always gives the same hash under one salt, so a platform
    that keeps the salt can check that a given id was erased, while the hash alone leads back to no one (ids
    are short and guessable, so a plain unsalted hash would not do).
    """
    return HASH_PREFIX + hmac.new(salt.encode(), mentor_id.encode(), hashlib.sha256).hexdigest()


def erase_mentor(mentor_id: str, salt: str, *, at: str, actor: Actor, request_id: str | None = None) -> Change:
    """The change that removes everything stored about a mentor, and leaves one history step that names them
    only by their salted hash. Storage removes the rows of every table that holds mentor data
    (`storage.write_path.MENTOR_TABLES`); an erasure that finds nothing to remove is refused there, inside
    the transaction, so an unknown mentor leaves no trace."""
    return Change(
        Cause.ERASURE,
        actor,
        [mentor_id],
        at=at,
        request_id=request_id,
        mentors_erased=[mentor_id],
        steps=[Step(mentor_hash(mentor_id, salt), None, [])],
    )
