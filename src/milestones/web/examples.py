"""Examples in the OpenAPI document: the contract's example requests, and what this service answers to them.

The answers were produced by the service itself (the contract's POST body, then each operation on its
mentor, at 2026-01-03T09:00:00Z) and shortened to the items the contract shows; tests/web/test_examples.py
replays the requests and checks every example still matches a real answer.
"""

from __future__ import annotations

from typing import Any

# The contract's example requests, as it gives them.
RECORD_SUMMARY: Any = {
    "mentor_id": "mentor_001",
    "period": {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
    "summary": {"total_hours": 312.5, "unique_contacts_helped": 47, "activity_count": 198},
}
UPDATE: Any = {"status": "achieved", "achieved_value": 315, "achieved_at": "2026-01-03T09:00:00Z"}
# Beyond the contract: a mentor's name, set without a summary.
MENTOR_UPDATE: Any = {"display_name": "Ada Lovelace"}
MENTOR: Any = {"mentor_id": "mentor_001", "display_name": "Ada Lovelace"}

RECORDED: Any = {
    "data": [
        {
            "id": "mentor_001~100h",
            "mentor_id": "mentor_001",
            "name": "100 Hours Milestone",
            "type": "hours_logged",
            "status": "achieved",
            "threshold": 100,
            "achieved_value": 312.5,
            "achieved_at": "2025-12-31T23:59:59Z",
            "achieved_at_precision": "period_end",
            "accessibility_label": "You reached 100 hours of mentoring on December 31, 2025",
            "badge_image_url": "/assets/badges/100h.png",
        },
        {
            "id": "mentor_001~50contacts",
            "mentor_id": "mentor_001",
            "name": "50 Unique Contacts",
            "type": "contacts_helped",
            "status": "in_progress",
            "threshold": 50,
            "achieved_value": 47,
            "current_value": 47,
            "progress_percentage": 94,
            "remaining": 3,
            "value_is_upper_bound": False,
            "accessibility_label": "You have helped 47 out of 50 unique contacts, 3 remaining",
            "badge_image_url": "/assets/badges/50contacts.png",
        },
    ],
    "pagination": {"page": 1, "limit": 20, "total": 11},
}

LIST: Any = {
    "data": [
        {
            "id": "mentor_001~100h",
            "mentor_id": "mentor_001",
            "name": "100 Hours Milestone",
            "type": "hours_logged",
            "status": "achieved",
            "threshold": 100,
            "achieved_value": 312.5,
            "achieved_at": "2025-12-31T23:59:59Z",
            "achieved_at_precision": "period_end",
            "accessibility_label": "You reached 100 hours of mentoring on December 31, 2025",
            "badge_image_url": "/assets/badges/100h.png",
        }
    ],
    "pagination": {"page": 1, "limit": 20, "total": 11},
}

ONE: Any = {
    "id": "mentor_001~100h",
    "mentor_id": "mentor_001",
    "name": "100 Hours Milestone",
    "type": "hours_logged",
    "status": "achieved",
    "threshold": 100,
    "achieved_value": 312.5,
    "achieved_at": "2025-12-31T23:59:59Z",
    "achieved_at_precision": "period_end",
    "accessibility_label": "You reached 100 hours of mentoring on December 31, 2025",
    "badge_image_url": "/assets/badges/100h.png",
}

NEW: Any = {
    "data": [
        {
            "id": "mentor_001~300h",
            "mentor_id": "mentor_001",
            "name": "300 Hours Milestone",
            "type": "hours_logged",
            "status": "achieved",
            "threshold": 300,
            "achieved_value": 312.5,
            "achieved_at": "2025-12-31T23:59:59Z",
            "achieved_at_precision": "period_end",
            "accessibility_label": "You reached 300 hours of mentoring on December 31, 2025",
            "badge_image_url": "/assets/badges/300h.png",
        }
    ],
    "pagination": {"page": 1, "limit": 20, "total": 8},
}

IN_PROGRESS: Any = {
    "data": [
        {
            "id": "mentor_001~50contacts",
            "mentor_id": "mentor_001",
            "name": "50 Unique Contacts",
            "type": "contacts_helped",
            "status": "in_progress",
            "threshold": 50,
            "achieved_value": 47,
            "current_value": 47,
            "progress_percentage": 94,
            "remaining": 3,
            "value_is_upper_bound": False,
            "estimated_completion": "2026-01-27",
            "accessibility_label": "You have helped 47 out of 50 unique contacts, 3 remaining",
            "badge_image_url": "/assets/badges/50contacts.png",
        }
    ],
    "pagination": {"page": 1, "limit": 20, "total": 3},
}

PERIODS: Any = {
    "data": [
        {
            "year": 2025,
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
            "summary": {"total_hours": 312.5, "unique_contacts_helped": 47, "activity_count": 198},
        }
    ]
}

UPDATED: Any = {
    "id": "mentor_001~300h",
    "mentor_id": "mentor_001",
    "name": "300 Hours Milestone",
    "type": "hours_logged",
    "status": "achieved",
    "threshold": 300,
    "achieved_value": 315,
    "achieved_at": "2026-01-03T09:00:00Z",
    "achieved_at_precision": "set_by_person",
    "accessibility_label": "You reached 300 hours of mentoring on January 3, 2026",
    "badge_image_url": "/assets/badges/300h.png",
}

DELETED: Any = {"deleted": True, "id": "mentor_001~100h"}

# The mentor's only period: every achieved milestone is left above the values (MILESTONES_ON_LOST_THRESHOLD=keep).
PERIOD_DELETED: Any = {
    "deleted": True,
    "mentor_id": "mentor_001",
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
    "unsupported": [
        "mentor_001~10h",
        "mentor_001~50h",
        "mentor_001~300h",
        "mentor_001~10contacts",
        "mentor_001~25contacts",
        "mentor_001~50activities",
        "mentor_001~100activities",
    ],
}
MENTOR_ERASED: Any = {
    "erased": True,
    "mentor_hash": "hmac-sha256:5d1f0c9e6b2a47e3a8c1d4f7b09e2a6c3f58d1b7e4a90c2f6d3b8e1a7c5f09d2",
    "erased_at": "2026-01-05T10:00:00Z",
    "removed": {
        "periods": 2,
        "milestones": 11,
        "history_entries": 14,
        "events": 9,
        "idempotency_records": 1,
        "mentor_records": 1,
        "webhook_deliveries": 0,
    },
}

# The contract's POST (request req-7f3a9c2e) achieved mentor_001~300h, and its PUT (req-1b8d04f6) updated it.
_ACHIEVED_300H: Any = {
    "status": "achieved",
    "current_value": 312.5,
    "achieved_value": 312.5,
    "achieved_at": "2025-12-31T23:59:59Z",
    "set_by_person": False,
    "threshold": 300,
}
# The packaged catalog's version (its content hash), as a history entry decided under it names it.
PACKAGED_CATALOG_VERSION = "701945f59d4c60ef"
HISTORY: Any = {
    "data": [
        {
            "milestone_id": "mentor_001~300h",
            "at": "2026-01-03T09:00:00Z",
            "actor": "anonymous",
            "request_id": "req-7f3a9c2e",
            "cause": "post",
            "period": {"start_date": "2025-01-01", "end_date": "2025-12-31"},
            "catalog_version": PACKAGED_CATALOG_VERSION,
            "transition": "achieved",
            "before": None,
            "after": _ACHIEVED_300H,
        },
        {
            "milestone_id": "mentor_001~300h",
            "at": "2026-01-03T09:00:00Z",
            "actor": "anonymous",
            "request_id": "req-1b8d04f6",
            "cause": "put",
            "transition": "updated",
            "before": _ACHIEVED_300H,
            "after": {
                "status": "achieved",
                "current_value": 312.5,
                "achieved_value": 315,
                "achieved_at": "2026-01-03T09:00:00Z",
                "set_by_person": True,
                "threshold": 300,
            },
        },
    ],
    "pagination": {"page": 1, "limit": 20},
}
# The evidence of a milestone a person set (after the UPDATE above): one period, the PUT that set it.
EVIDENCE: Any = {
    "milestone_id": "mentor_001~300h",
    "status": "achieved",
    "rule": {"type": "hours_logged", "threshold": 300, "catalog_version": PACKAGED_CATALOG_VERSION},
    "value": 312.5,
    "value_is_upper_bound": False,
    "periods": [{"start_date": "2025-01-01", "end_date": "2025-12-31", "value": 312.5}],
    "achieved_value": 315,
    "achieved_at": "2026-01-03T09:00:00Z",
    "achieved_at_precision": "set_by_person",
    "crossed": {"start_date": "2025-01-01", "end_date": "2025-12-31"},
    "set_by_person": True,
    "set_by": {
        "milestone_id": "mentor_001~300h",
        "at": "2026-01-03T09:00:00Z",
        "actor": "anonymous",
        "request_id": "req-1b8d04f6",
        "cause": "put",
        "transition": "updated",
        "before": _ACHIEVED_300H,
        "after": {
            "status": "achieved",
            "current_value": 312.5,
            "achieved_value": 315,
            "achieved_at": "2026-01-03T09:00:00Z",
            "set_by_person": True,
            "threshold": 300,
        },
    },
}

MENTOR_HISTORY: Any = {
    "data": [
        {
            "milestone_id": "mentor_001~100h",
            "at": "2026-01-03T09:00:00Z",
            "actor": "anonymous",
            "request_id": "req-7f3a9c2e",
            "cause": "post",
            "period": {"start_date": "2025-01-01", "end_date": "2025-12-31"},
            "catalog_version": PACKAGED_CATALOG_VERSION,
            "transition": "achieved",
            "before": None,
            "after": {
                "status": "achieved",
                "current_value": 312.5,
                "achieved_value": 312.5,
                "achieved_at": "2025-12-31T23:59:59Z",
                "set_by_person": False,
                "threshold": 100,
            },
        },
    ],
    "pagination": {"page": 1, "limit": 3, "next_cursor": "MS4y"},
}
# The contract's POST achieving mentor_001~300h, as the feed shows it.
EVENTS: Any = {
    "data": [
        {
            "specversion": "1.0",
            "id": "1042-0",
            "source": "https://milestones.example.org",
            "type": "milestone.achieved",
            "time": "2026-01-03T09:00:00Z",
            "subject": "mentor_001~300h",
            "datacontenttype": "application/json",
            "data": {
                "milestone_id": "mentor_001~300h",
                "mentor_id": "mentor_001",
                "transition": "achieved",
                "milestone": {
                    "id": "mentor_001~300h",
                    "mentor_id": "mentor_001",
                    "name": "300 Hours Mentored",
                    "type": "hours",
                    "status": "achieved",
                    "threshold": 300,
                    "achieved_value": 312.5,
                    "achieved_at": "2025-12-31T23:59:59Z",
                    "accessibility_label": "Achieved 300 Hours Mentored on December 31, 2025",
                    "badge_image_url": "/badges/300h.png",
                },
                "cause": "post",
                "actor": "anonymous",
                "request_id": "req-7f3a9c2e",
                "notify": True,
            },
        },
    ],
    "pagination": {"page": 1, "limit": 100, "next_cursor": "NDcxMi4xMDQyLjEuMTc2NzQzMDgwMA"},
}
