"""The one state machine of DOMAIN.md: listed moves only."""

from __future__ import annotations

import pytest

from app.errors import ConflictError
from app.reports.states import TRANSITIONS, allowed_actions, transition

STATUSES = ["new", "reviewing", "transferred", "police_responded", "supervising", "closed"]
ALLOWED = {
    ("new", "acknowledge"): "reviewing",
    ("reviewing", "transfer"): "transferred",
    ("reviewing", "close"): "closed",
    ("transferred", "record_feedback"): "police_responded",
    ("police_responded", "supervise"): "supervising",
    ("police_responded", "close"): "closed",
    ("supervising", "record_feedback"): "police_responded",
    ("supervising", "close"): "closed",
    ("closed", "reopen"): "reviewing",
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_only_the_listed_moves_are_allowed(status, action):
    expected = ALLOWED.get((status, action))
    if expected is None:
        with pytest.raises(ConflictError):
            transition(status, action)
    else:
        assert transition(status, action) == expected


def test_closed_can_only_be_reopened_to_review():
    assert allowed_actions("closed") == ["reopen"]
