"""Each staff action is one rule: the state machine's ``Rule`` (statuses, roles, inputs, second factor) and the
marshmallow schema its form renders errors from are held equal, so neither can drift from the other."""

from __future__ import annotations

from app.reports.states import RULES, Action
from app.review.actions import ACTIONS
from app.review.schemas import SCHEMAS

# Actions that are not taken on a report's page: the reporter's own (submit, answer).
NOT_STAFF = {Action.SUBMIT, Action.ANSWER}


def test_every_staff_action_of_the_state_machine_has_one_entry_in_the_pipeline():
    staff = {action for action in Action if action not in NOT_STAFF}
    assert {entry.action for entry in ACTIONS.values()} == staff
    assert all(name == entry.action.value for name, entry in ACTIONS.items())


def test_each_actions_schema_has_exactly_the_inputs_its_rule_names():
    for action, entry in ACTIONS.items():
        fields = set(SCHEMAS[entry.action]().fields)
        assert fields == set(RULES[entry.action].inputs), action


def test_the_pipeline_reads_the_rule_of_the_state_machine_not_a_copy():
    for entry in ACTIONS.values():
        assert entry.rule is RULES[entry.action]


def test_the_transfer_is_the_sensitive_action_and_every_entry_has_a_label():
    assert {entry.action for entry in ACTIONS.values() if entry.rule.sensitive} == {Action.TRANSFER}
    assert all(entry.label.strip() for entry in ACTIONS.values())
