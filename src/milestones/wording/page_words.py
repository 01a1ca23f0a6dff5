"""The words of a mentor's page, card and card image, as the message catalogs translate them."""

from __future__ import annotations

from milestones.wording.languages import Word

# Every text the templates (web/templates) pass to `_()`, in English; tests/web/test_pages.py checks the list
# against the templates, and scripts/messages.py puts it in every language's catalog.
MESSAGES: tuple[Word, ...] = tuple(
    Word(text)
    for text in (
        "Mentoring milestones",
        "Skip to main content",
        "Milestones reached:",
        "New this year:",
        "Your first milestones are waiting",
        "Nothing is recorded yet. Every hour you mentor, every person you help and every session you run "
        "counts towards these first badges:",
        "Next up",
        # An in-progress milestone's estimated completion; {month} is a month and its year (March 2026).
        "At your pace, around {month}",
        "You have reached every milestone there is: thank you for your mentoring.",
        "Achieved",
        "Reached on",
        "New this year",
        "Open the badge image",
        "No milestone reached yet: the first one is close.",
        "Recognised by your mentoring programme.",
        "Nothing recorded yet. First to reach:",
        "First to reach",
        "See all milestones",
        "opens in a new tab",
        # The page a browser gets for an error on a page's address (templates/problem.html).
        "This page needs a valid link",
        "This page does not exist",
        "This address is not valid",
        "Too many requests: wait a moment, then try again",
        "The service is unavailable for a moment",
        "This page cannot be shown",
        "What happened",
        "Error code:",
    )
)
