"""The review workflow's actions (DOMAIN.md, "The life of a report"), each through the one state machine.

Every action takes the report, the acting ``Actor``, the ``version`` the actor's page was rendered from and
``now``; it checks the actor may act on this report (own office; police: an open transfer to their unit), that
nobody changed the report since (``ConflictError`` "该线索已被他人修改"), and that the state machine allows the
action for the actor's role; then it writes the report, its timeline event, its records (transfer, question,
referral), the audit entry and, through ``reports.service.change_status``, its outbox rows, all in the caller's
transaction. Free texts are sealed with the report's data key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from app.audit import service as audit
from app.auth.models import StaffUser
from app.core.actor import Actor
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.notify import service as notify
from app.offices.models import PoliceUnit
from app.reports import service as reports
from app.reports.models import Report, ReportEvent
from app.reports.records import (
    AGENCIES,
    CLOSE_REASONS,
    FEEDBACK_OUTCOMES,
    RISKS,
    SUPERVISION_RESULTS,
    Question,
    Referral,
    Transfer,
)
from app.reports.states import Action, Status, transition
from app.review import access


@dataclasses.dataclass(frozen=True)
class Deadlines:
    """How long the police have (DOMAIN.md; ``QZBG_DEADLINE_*``)."""

    police_receipt: dt.timedelta = dt.timedelta(hours=24)
    police_feedback: dt.timedelta = dt.timedelta(hours=72)
    supervision_answer: dt.timedelta = dt.timedelta(hours=168)


def _check_version(report: Report, version: int) -> None:
    if report.version != version:
        raise reports.ReportChangedError(reports.CHANGED)


def _choice(value: str | None, field: str, choices: dict[str, str]) -> str:
    if value not in choices:
        raise ValidationError(fields={field: ["请从列表中选择"]})
    return value


# What the police do that the assigned prosecutor must hear of.
POLICE_NEWS = frozenset({Action.POLICE_RETURN, Action.RECORD_FEEDBACK, Action.POLICE_EXPLAIN})


def _step(report: Report, action: Action, actor: Actor, now: dt.datetime, note: str | None = None, *,
          outbound: notify.Outbound | None = None) -> ReportEvent:
    """One step of the state machine, audited; the police's news queued (``outbound``: every action of
    ``POLICE_NEWS`` passes it)."""
    event = reports.change_status(report, action, actor=actor, now=now, note=note)
    audit.record(actor, f"report.{action.value}", now=now, target_type="report", target_id=report.id,
                 office_id=report.office_id)
    if actor.role == "police" and action in POLICE_NEWS:
        assert outbound is not None, "a police action that others must hear of takes the outbound settings"
        notify.enqueue(notify.Kind.POLICE_RESPONDED, outbound=outbound, report=report, now=now)
    return event


def _begin(report: Report, action: Action, actor: Actor, version: int) -> Transfer | None:
    """Every check before anything is changed: scope, version, and that the role may take the action now."""
    transfer = access.scope(report, actor)
    _check_version(report, version)
    transition(report.status, action, actor.role)
    return transfer


@reports.one_at_a_time
def acknowledge(report: Report, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    """签收: the office has the report; the acknowledgement deadline is met."""
    _begin(report, Action.ACKNOWLEDGE, actor, version)
    report.acknowledged_at = now
    if report.assignee_id is None and actor.id is not None:
        report.assignee_id = actor.id
    return _step(report, Action.ACKNOWLEDGE, actor, now)


@reports.one_at_a_time
def assign(report: Report, assignee: str, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    """A lead gives the report to a prosecutor (or lead) of the office."""
    _begin(report, Action.ASSIGN, actor, version)
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == (assignee or "").strip().lower())).first()
    if user is None or user.office_id != report.office_id or user.role not in ("prosecutor", "lead") or not user.active:
        raise ValidationError(fields={"assignee": ["请选择本院的检察官"]})
    report.assignee_id = user.id
    return _step(report, Action.ASSIGN, actor, now)


@reports.one_at_a_time
def set_risk(report: Report, risk: str, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    _begin(report, Action.SET_RISK, actor, version)
    report.risk = _choice(risk, "risk", RISKS)
    return _step(report, Action.SET_RISK, actor, now)


@reports.one_at_a_time
def add_note(report: Report, note: str, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    """An internal note: sealed, never shown to the reporter or the police."""
    _begin(report, Action.ADD_NOTE, actor, version)
    return _step(report, Action.ADD_NOTE, actor, now, note=reports.checked_text(note, "note"))


@reports.one_at_a_time
def ask_reporter(report: Report, question: str, *, actor: Actor, version: int, now: dt.datetime) -> Question:
    """补充材料: a question the reporter sees in the mini-program and on the web status page."""
    _begin(report, Action.ASK_REPORTER, actor, version)
    text = reports.checked_text(question, "question", limit=1000)
    asked = Question(id=uuid.uuid4(), report_id=report.id, asked_at=now, asked_by=actor.id)
    asked.report = report
    asked.seal("text_data", text)
    db.session.add(asked)
    _step(report, Action.ASK_REPORTER, actor, now)
    return asked


@reports.one_at_a_time
def transfer(
    report: Report, *, police_unit: str, document_no: str, contact: str | None, share_reporter: bool,
    note: str | None, actor: Actor, version: int, now: dt.datetime, deadlines: Deadlines, outbound: notify.Outbound,
) -> Transfer:
    """移送公安: to one of the office's active police units, with the document number; the reporter's identity is
    shared only when the prosecutor says so (the caller asks for a recent second factor: a sensitive action)."""
    _begin(report, Action.TRANSFER, actor, version)
    unit = db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == (police_unit or "").strip())).first()
    if unit is None or unit.office_id != report.office_id or not unit.active:
        raise ValidationError(fields={"police_unit": ["请选择本院辖区的公安机关"]})
    number = reports.checked_text(document_no, "document_no", limit=64)
    record = Transfer(
        id=uuid.uuid4(), report_id=report.id, office_id=report.office_id, report_submitted_at=report.submitted_at,
        training=report.training,
        police_unit_id=unit.id, state="open",
        share_reporter=bool(share_reporter), created_at=now, created_by=actor.id,
        receipt_due_at=now + deadlines.police_receipt, feedback_due_at=now + deadlines.police_feedback,
    )
    record.report = report
    record.seal("document_no_data", number)
    for column, value in (("contact_data", reports.checked_text(contact, "contact", required=False, limit=200)),
                          ("note_data", reports.checked_text(note, "note", required=False))):
        if value:
            record.seal(column, value)
    db.session.add(record)
    _step(report, Action.TRANSFER, actor, now)
    notify.enqueue(notify.Kind.TRANSFER, outbound=outbound, report=report, now=now,
                   transfer=record)  # the police unit's users
    return record


def _open(report: Report) -> Transfer:
    record = access.open_transfer(report)
    if record is None:
        raise ConflictError(reports.CHANGED)
    return record


@reports.one_at_a_time
def police_acknowledge(report: Report, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    """签收 by the police unit the report was transferred to."""
    _begin(report, Action.POLICE_ACKNOWLEDGE, actor, version)
    record = _open(report)
    if record.acknowledged_at is not None:
        raise ConflictError("已签收")
    record.acknowledged_at = now
    return _step(report, Action.POLICE_ACKNOWLEDGE, actor, now)


@reports.one_at_a_time
def police_return(report: Report, reason: str, *, actor: Actor, version: int, now: dt.datetime,
                  outbound: notify.Outbound) -> ReportEvent:
    """退回: not this unit's jurisdiction or not a police matter; back to the prosecutor with the reason."""
    _begin(report, Action.POLICE_RETURN, actor, version)
    record = _open(report)
    record.seal("return_reason_data", reports.checked_text(reason, "reason", limit=1000))
    record.returned_at, record.state = now, "returned"
    return _step(report, Action.POLICE_RETURN, actor, now, outbound=outbound)


@reports.one_at_a_time
def record_feedback(
    report: Report, *, outcome: str, case_no: str | None, decided_at: dt.date | None, note: str | None,
    actor: Actor, version: int, now: dt.datetime, outbound: notify.Outbound,
) -> ReportEvent:
    """The police's decision (受案 / 立案 / 不予立案 / 移送其他机关 / 其他), by that unit or a prosecutor."""
    _begin(report, Action.RECORD_FEEDBACK, actor, version)
    record = _open(report)
    record.feedback_outcome = _choice(outcome, "outcome", FEEDBACK_OUTCOMES)
    number = reports.checked_text(case_no, "case_no", required=False, limit=64)
    record.case_no_data = None
    if number:
        record.seal("case_no_data", number)
    if decided_at is not None and decided_at > now.date() + dt.timedelta(days=1):
        raise ValidationError(fields={"decided_at": ["日期不能晚于今天"]})
    record.decided_on, record.feedback_at = decided_at, now
    text = reports.checked_text(note, "note", required=False)
    if text:
        record.seal("feedback_note_data", text)
    if report.status == Status.SUPERVISING:
        record.concluded_at = record.concluded_at or now
    return _step(report, Action.RECORD_FEEDBACK, actor, now, outbound=outbound)


@reports.one_at_a_time
def supervise(
    report: Report, note: str, *, actor: Actor, version: int, now: dt.datetime, deadlines: Deadlines
) -> ReportEvent:
    """立案监督: ask the police to explain a decision not to file (要求说明不立案理由)."""
    _begin(report, Action.SUPERVISE, actor, version)
    record = _open(report)
    if record.feedback_outcome != "not_filed":
        raise ConflictError("只有不予立案的反馈可以启动立案监督")
    record.seal("supervision_note_data", reports.checked_text(note, "note"))
    record.supervision_requested_at = now
    record.supervision_answer_due_at = now + deadlines.supervision_answer
    record.explained_at = record.concluded_at = record.conclusion = None
    return _step(report, Action.SUPERVISE, actor, now)


@reports.one_at_a_time
def police_explain(report: Report, note: str, *, actor: Actor, version: int, now: dt.datetime,
                   outbound: notify.Outbound) -> ReportEvent:
    """The police's explanation of why they did not file."""
    _begin(report, Action.POLICE_EXPLAIN, actor, version)
    record = _open(report)
    record.seal("explanation_data", reports.checked_text(note, "note"))
    record.explained_at = now
    return _step(report, Action.POLICE_EXPLAIN, actor, now, outbound=outbound)


@reports.one_at_a_time
def conclude_supervision(
    report: Report, result: str, note: str | None, *, actor: Actor, version: int, now: dt.datetime
) -> ReportEvent:
    """通知立案 (the police must file: their feedback comes again) or 理由成立 (the reasons stand)."""
    _begin(report, Action.CONCLUDE_SUPERVISION, actor, version)
    record = _open(report)
    record.conclusion = _choice(result, "result", SUPERVISION_RESULTS)
    record.concluded_at = now
    text = reports.checked_text(note, "note", required=False)
    if text:
        record.seal("conclusion_note_data", text)
    return _step(report, Action.CONCLUDE_SUPERVISION, actor, now)


@reports.one_at_a_time
def refer(report: Report, agency: str, note: str | None, *, actor: Actor, version: int, now: dt.datetime) -> Referral:
    """Ask another agency for help (民政, 教育, 妇联, 团委 ...); the report stays with the office."""
    _begin(report, Action.REFER, actor, version)
    record = Referral(id=uuid.uuid4(), report_id=report.id, agency=_choice(agency, "agency", AGENCIES),
                      created_at=now, created_by=actor.id)
    record.report = report
    text = reports.checked_text(note, "note", required=False)
    if text:
        record.seal("note_data", text)
    db.session.add(record)
    _step(report, Action.REFER, actor, now)
    return record


@reports.one_at_a_time
def close(
    report: Report, reason: str, *, merge_into: str | None, note: str | None, actor: Actor, version: int,
    now: dt.datetime,
) -> ReportEvent:
    """办结 with a reason; a duplicate names the report it is merged into (by tracking number)."""
    _begin(report, Action.CLOSE, actor, version)
    report.close_reason = _choice(reason, "reason", CLOSE_REASONS)
    report.merged_into_id = None
    if reason == "duplicate":
        target = db.session.scalars(
            select(Report).where(Report.tracking_no == (merge_into or "").strip().upper())
        ).first()
        if target is None or target.office_id != report.office_id or target.id == report.id:
            raise ValidationError(fields={"merge_into": ["请填写本院另一条线索的编号"]})
        report.merged_into_id = target.id
    record = access.open_transfer(report)
    if record is not None:
        record.state = "done"
    report.closed_at = now
    return _step(report, Action.CLOSE, actor, now, note=reports.checked_text(note, "note", required=False))


@reports.one_at_a_time
def reopen(report: Report, note: str | None, *, actor: Actor, version: int, now: dt.datetime) -> ReportEvent:
    _begin(report, Action.REOPEN, actor, version)
    report.close_reason = report.closed_at = report.merged_into_id = None
    return _step(report, Action.REOPEN, actor, now, note=reports.checked_text(note, "note", required=False))


def deadlines_from(settings: Any) -> Deadlines:
    """The police deadlines of ``settings`` (``QZBG_DEADLINE_POLICE_RECEIPT``, ``..._POLICE_FEEDBACK``,
    ``..._SUPERVISION_ANSWER``, in hours)."""
    return Deadlines(
        police_receipt=dt.timedelta(hours=settings.deadline_police_receipt),
        police_feedback=dt.timedelta(hours=settings.deadline_police_feedback),
        supervision_answer=dt.timedelta(hours=settings.deadline_supervision_answer),
    )
