"""The one state machine of DOMAIN.md: listed moves only, by the listed roles only."""

from __future__ import annotations

import pytest

from app.errors import ConflictError, ForbiddenError
from app.reports.states import RULES, TRANSITIONS, Action, Status, allowed_actions, transition

STATUSES = ["new", "reviewing", "transferred", "police_responded", "supervising", "closed"]
ALLOWED = {
    ("new", "acknowledge"): "reviewing",
    ("reviewing", "transfer"): "transferred",
    ("reviewing", "close"): "closed",
    ("transferred", "police_return"): "reviewing",
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


def test_closed_can_only_be_reopened_to_review_or_annotated():
    assert allowed_actions("closed") == [Action.ADD_NOTE, Action.REOPEN]


def test_a_new_report_starts_as_new_and_nothing_else_starts_a_report():
    assert transition(None, "submit", "reporter") == Status.NEW
    with pytest.raises(ConflictError):
        transition(None, "acknowledge", "prosecutor")


@pytest.mark.parametrize("action", [a for a, rule in RULES.items() if rule.target is None and rule.sources])
def test_annotating_actions_leave_the_status_where_it_is(action):
    status = next(iter(RULES[action].sources))
    assert transition(status, action, next(iter(RULES[action].roles))) == status


@pytest.mark.parametrize(("action", "role"), [
    ("acknowledge", "police"), ("transfer", "police"), ("assign", "prosecutor"), ("police_return", "prosecutor"),
    ("acknowledge", "reporter"), ("close", "unit_liaison"), ("record_feedback", "admin"),
])
def test_a_role_outside_the_rule_is_forbidden(action, role):
    status = next(iter(RULES[Action(action)].sources))
    with pytest.raises(ForbiddenError):
        transition(status, action, role)


def test_police_see_only_their_own_actions_on_a_transferred_report():
    assert allowed_actions("transferred", "police") == [
        Action.POLICE_ACKNOWLEDGE, Action.POLICE_RETURN, Action.RECORD_FEEDBACK,
    ]


def test_transfer_is_the_sensitive_action_and_names_its_inputs():
    assert [a for a, rule in RULES.items() if rule.sensitive] == [Action.TRANSFER]
    assert RULES[Action.TRANSFER].inputs == ("police_unit", "document_no", "contact", "share_reporter", "note")


def test_an_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown action"):
        transition("new", "teleport")
