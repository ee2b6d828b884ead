"""The one state machine of a report (DOMAIN.md, "The life of a report").

``Status`` is the internal status staff see; ``REPORTER_STATUS`` maps it to the
four a reporter sees. Every ``Action`` has one ``Rule``: the statuses it may start
from, where it leads (``None``: the status stays), the roles that may take it,
the inputs it needs and whether it is sensitive (needs a recent second factor).
Nothing else sets a status: ``transition`` is the only way through, and anything
not listed is refused.
"""

from __future__ import annotations

import dataclasses
import enum

from app.errors import ConflictError, ForbiddenError


class Status(enum.StrEnum):
    NEW = "new"
    REVIEWING = "reviewing"
    TRANSFERRED = "transferred"
    POLICE_RESPONDED = "police_responded"
    SUPERVISING = "supervising"
    CLOSED = "closed"


class ReporterStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    TRANSFERRED = "transferred"
    CLOSED = "closed"


STATUS_LABELS: dict[str, str] = {
    Status.NEW: "待签收",
    Status.REVIEWING: "初核中",
    Status.TRANSFERRED: "已移送公安，待反馈",
    Status.POLICE_RESPONDED: "公安已反馈",
    Status.SUPERVISING: "立案监督中",
    Status.CLOSED: "已办结",
}
# What a reporter sees for each internal status.
REPORTER_STATUS: dict[str, ReporterStatus] = {
    Status.NEW: ReporterStatus.SUBMITTED,
    Status.REVIEWING: ReporterStatus.RECEIVED,
    Status.TRANSFERRED: ReporterStatus.TRANSFERRED,
    Status.POLICE_RESPONDED: ReporterStatus.TRANSFERRED,
    Status.SUPERVISING: ReporterStatus.TRANSFERRED,
    Status.CLOSED: ReporterStatus.CLOSED,
}
REPORTER_STATUS_LABELS: dict[str, str] = {
    ReporterStatus.SUBMITTED: "已提交",
    ReporterStatus.RECEIVED: "已受理",
    ReporterStatus.TRANSFERRED: "已移送公安机关",
    ReporterStatus.CLOSED: "已办结",
}


class Action(enum.StrEnum):
    SUBMIT = "submit"
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    SET_RISK = "set_risk"
    ADD_NOTE = "add_note"
    ASK_REPORTER = "ask_reporter"
    ANSWER = "answer"
    TRANSFER = "transfer"
    POLICE_ACKNOWLEDGE = "police_acknowledge"
    POLICE_RETURN = "police_return"
    RECORD_FEEDBACK = "record_feedback"
    SUPERVISE = "supervise"
    POLICE_EXPLAIN = "police_explain"
    CONCLUDE_SUPERVISION = "conclude_supervision"
    REFER = "refer"
    CLOSE = "close"
    REOPEN = "reopen"


# Roles of actors (staff roles from CONTRACT.md, and the intake side's own).
REPORTER, PUBLIC, SYSTEM, INSTITUTION = "reporter", "public", "system", "institution"
PROSECUTORS = frozenset({"prosecutor", "lead"})
POLICE = frozenset({"police"})


@dataclasses.dataclass(frozen=True)
class Rule:
    sources: frozenset[Status]
    target: Status | None  # None: the status stays as it is
    roles: frozenset[str]
    inputs: tuple[str, ...] = ()
    sensitive: bool = False


OPEN = frozenset(Status) - {Status.CLOSED}
_s = frozenset

RULES: dict[Action, Rule] = {
    # A new report has no status yet; a prosecutor enters one received by phone.
    Action.SUBMIT: Rule(_s(), Status.NEW, _s({REPORTER, PUBLIC, INSTITUTION}) | PROSECUTORS),
    Action.ACKNOWLEDGE: Rule(_s({Status.NEW}), Status.REVIEWING, PROSECUTORS),
    Action.ASSIGN: Rule(OPEN, None, _s({"lead"}), ("assignee",)),
    Action.SET_RISK: Rule(OPEN, None, PROSECUTORS, ("risk",)),
    Action.ADD_NOTE: Rule(frozenset(Status), None, PROSECUTORS, ("note",)),
    Action.ASK_REPORTER: Rule(OPEN, None, PROSECUTORS, ("question",)),
    Action.ANSWER: Rule(OPEN, None, _s({REPORTER, PUBLIC}), ("question_id", "text")),
    Action.TRANSFER: Rule(
        _s({Status.REVIEWING}), Status.TRANSFERRED, PROSECUTORS,
        ("police_unit", "document_no", "contact", "share_reporter", "note"), sensitive=True,
    ),
    Action.POLICE_ACKNOWLEDGE: Rule(_s({Status.TRANSFERRED}), None, POLICE),
    Action.POLICE_RETURN: Rule(_s({Status.TRANSFERRED}), Status.REVIEWING, POLICE, ("reason",)),
    Action.RECORD_FEEDBACK: Rule(
        _s({Status.TRANSFERRED, Status.SUPERVISING}), Status.POLICE_RESPONDED, POLICE | PROSECUTORS,
        ("outcome", "case_no", "decided_at", "note"),
    ),
    Action.SUPERVISE: Rule(_s({Status.POLICE_RESPONDED}), Status.SUPERVISING, PROSECUTORS, ("note",)),
    Action.POLICE_EXPLAIN: Rule(_s({Status.SUPERVISING}), None, POLICE, ("note",)),
    Action.CONCLUDE_SUPERVISION: Rule(_s({Status.SUPERVISING}), None, PROSECUTORS, ("result", "note")),
    Action.REFER: Rule(OPEN - {Status.NEW}, None, PROSECUTORS, ("agency", "note")),
    Action.CLOSE: Rule(
        _s({Status.REVIEWING, Status.POLICE_RESPONDED, Status.SUPERVISING}), Status.CLOSED, PROSECUTORS,
        ("reason", "merge_into", "note"),
    ),
    Action.REOPEN: Rule(_s({Status.CLOSED}), Status.REVIEWING, PROSECUTORS, ("note",)),
}
# The moves that change the status (the rest annotate a report where it stands).
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    action: (rule.sources, rule.target)
    for action, rule in RULES.items()
    if rule.target is not None and rule.sources
}


def allowed_actions(status: str, role: str | None = None) -> list[Action]:
    """The actions that may be taken on a report in ``status`` (by ``role``, when given), in RULES' order."""
    return [
        action for action, rule in RULES.items()
        if status in rule.sources and (role is None or role in rule.roles)
    ]


def transition(status: str | None, action: str, role: str | None = None) -> Status:
    """The status ``action`` leaves a report in from ``status``.

    ConflictError when the action does not apply to the status, ForbiddenError when
    ``role`` (given) may not take it, ValueError for an action that does not exist.
    """
    try:
        rule = RULES[Action(action)]
    except ValueError:
        raise ValueError(f"unknown action {action!r}") from None
    if role is not None and role not in rule.roles:
        raise ForbiddenError("您没有权限进行此操作")
    if status is None:
        if rule.sources:
            raise ConflictError("该线索当前状态不允许此操作，请刷新后重试")
        assert rule.target is not None
        return rule.target
    if Status(status) not in rule.sources:
        raise ConflictError("该线索当前状态不允许此操作，请刷新后重试")
    return rule.target or Status(status)


def reporter_status(status: str) -> ReporterStatus:
    return REPORTER_STATUS[status]
