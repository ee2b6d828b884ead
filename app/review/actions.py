"""The staff action pipeline: every action of a report's page is one entry, driven by the state machine.

An action is its ``Rule`` (``app/reports/states.py``: who may take it, from which statuses, where it leads,
whether it needs a fresh second factor, its inputs), its input schema (``app/review/schemas.py``), the service
that carries it out (``app/review/service.py``) and the sentence that tells the user what happened. ``take``
runs any of them the same way: load the report as the user may see it (``access``), check the permission and
the step-up the rule asks for, load the inputs through the schema, call the service, and answer 303 to the
report with that sentence; a stale page answers 409, a refused input 422 with the page, the typed values kept
and the first bad field in view. A sensitive action posted without a fresh code is held and carried out after
the code (``app/auth/stepup.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth import permissions
from app.auth.guard import current_session, step_up_redirect, stepped_up
from app.auth.models import StaffUser
from app.core.actor import Actor
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.notify.channels import NONE
from app.notify.models import OutboxMessage
from app.notify.service import Kind, Outbound
from app.offices.models import PoliceUnit
from app.reports.models import Report
from app.reports.records import AGENCIES, CLOSE_REASONS, FEEDBACK_OUTCOMES, RISKS, SUPERVISION_RESULTS
from app.reports.states import RULES, Action, Rule
from app.review import access, presenters
from app.review import service as review
from app.review.schemas import SCHEMAS

CHANGED_MESSAGE = "该线索已被他人修改，请查看最新状态后再操作"


@dataclasses.dataclass(frozen=True)
class Context:
    """What every action is given besides the report and its inputs."""

    actor: Actor
    version: int
    now: dt.datetime
    deadlines: review.Deadlines
    outbound: Outbound  # what queueing the police's news and a transfer's message needs of the settings

    @property
    def common(self) -> dict[str, Any]:
        return {"actor": self.actor, "version": self.version, "now": self.now}


Perform = Callable[[Report, dict[str, Any], Context], str]


@dataclasses.dataclass(frozen=True)
class StaffAction:
    """One action of the report page: its rule, its words, the permission it needs beyond the rule's roles, and
    what carries it out (returning the sentence the user reads afterwards)."""

    action: Action
    label: str
    perform: Perform
    permission: str | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.action]


def _acknowledge(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.acknowledge(report, **ctx.common)
    return "已签收，线索进入初核" + ("，并由您承办" if report.assignee_id == ctx.actor.id else "")


def _assign(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.assign(report, data["assignee"], **ctx.common)
    assignee = db.session.get(StaffUser, report.assignee_id)
    return f"已指派给{assignee.display_name if assignee else data['assignee']}承办"


def _set_risk(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.set_risk(report, data["risk"], **ctx.common)
    return f"风险等级已设为「{RISKS[data['risk']]}」"


def _add_note(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.add_note(report, data["note"], **ctx.common)
    return "内部备注已保存（报告人和公安看不到）"


def _ask_reporter(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.ask_reporter(report, data["question"], **ctx.common)
    return "问题已发给报告人；报告人回答后会通知承办人"


def _reached(report: Report, kind: Kind, now: dt.datetime) -> bool:
    """Whether this action queued a message that some channel will carry (not only a dead ``none`` letter)."""
    return db.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.report_id == report.id, OutboxMessage.kind == kind.value,
                                       OutboxMessage.created_at == now, OutboxMessage.channel != NONE).limit(1)
    ) is not None


def _transfer(report: Report, data: dict[str, Any], ctx: Context) -> str:
    record = review.transfer(report, police_unit=data["police_unit"], document_no=data["document_no"],
                             contact=data["contact"], share_reporter=data["share_reporter"], note=data["note"],
                             deadlines=ctx.deadlines, outbound=ctx.outbound, **ctx.common)
    unit = db.session.get(PoliceUnit, record.police_unit_id)
    name = unit.name if unit is not None else "公安机关"
    if _reached(report, Kind.TRANSFER, ctx.now):
        return f"已移送{name}，已通知其联络人"
    return f"已移送{name}；该单位没有可通知的账号，请电话告知并送达移送函"


def _police_acknowledge(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.police_acknowledge(report, **ctx.common)
    return "已签收移送，请在期限内反馈处理结果"


def _police_return(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.police_return(report, data["reason"], outbound=ctx.outbound, **ctx.common)
    return "已退回检察院，退回理由已送达承办检察官"


def _record_feedback(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.record_feedback(report, outcome=data["outcome"], case_no=data["case_no"], decided_at=data["decided_at"],
                           note=data["note"], outbound=ctx.outbound, **ctx.common)
    return f"已记录公安反馈：{FEEDBACK_OUTCOMES[data['outcome']]}"


def _supervise(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.supervise(report, data["note"], deadlines=ctx.deadlines, **ctx.common)
    days = max(1, round(ctx.deadlines.supervision_answer / dt.timedelta(days=1)))
    return f"已启动立案监督，要求公安在{days}日内说明不立案理由"


def _police_explain(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.police_explain(report, data["note"], outbound=ctx.outbound, **ctx.common)
    return "不立案理由已提交检察院"


def _conclude_supervision(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.conclude_supervision(report, data["result"], data["note"], **ctx.common)
    return f"立案监督结论已记录：{SUPERVISION_RESULTS[data['result']]}"


def _refer(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.refer(report, data["agency"], data["note"], **ctx.common)
    return f"已转介{AGENCIES[data['agency']]}，线索仍由本院办理"


def _close(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.close(report, data["reason"], merge_into=data["merge_into"], note=data["note"], **ctx.common)
    if report.merged_into_id is not None:
        target = db.session.get(Report, report.merged_into_id)
        return f"已办结：重复线索，已并入 {target.tracking_no if target else ''}".rstrip()
    return f"已办结：{CLOSE_REASONS[data['reason']]}"


def _reopen(report: Report, data: dict[str, Any], ctx: Context) -> str:
    review.reopen(report, data["note"], **ctx.common)
    return "已重新办理，线索回到初核"


ACTIONS: dict[str, StaffAction] = {a.action.value: a for a in (
    StaffAction(Action.ACKNOWLEDGE, "签收", _acknowledge),
    StaffAction(Action.ASSIGN, "指派承办人", _assign, permission="review.assign"),
    StaffAction(Action.SET_RISK, "评估风险等级", _set_risk),
    StaffAction(Action.ADD_NOTE, "添加内部备注", _add_note),
    StaffAction(Action.ASK_REPORTER, "向报告人提问", _ask_reporter),
    StaffAction(Action.TRANSFER, "移送公安", _transfer, permission="review.transfer"),
    StaffAction(Action.POLICE_ACKNOWLEDGE, "签收移送", _police_acknowledge),
    StaffAction(Action.POLICE_RETURN, "退回检察院", _police_return),
    StaffAction(Action.RECORD_FEEDBACK, "反馈处理结果", _record_feedback),
    StaffAction(Action.SUPERVISE, "立案监督", _supervise),
    StaffAction(Action.POLICE_EXPLAIN, "说明不立案理由", _police_explain),
    StaffAction(Action.CONCLUDE_SUPERVISION, "监督结论", _conclude_supervision),
    StaffAction(Action.REFER, "转介", _refer),
    StaffAction(Action.CLOSE, "办结", _close),
    StaffAction(Action.REOPEN, "重新办理", _reopen),
)}


def report_id_of(value: str) -> uuid.UUID:
    """A path's UUID (a string converter: a bad one is not found, after the login and permission checks)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError("找不到请求的内容") from None


def _version(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def inputs(entry: StaffAction, form: MultiDict[str, str]) -> dict[str, Any]:
    """The action's inputs from a posted form, through its schema (the rule's inputs only; the rest of the form,
    its CSRF token, version and ``next``, is not the action's). ValidationError names each bad field."""
    posted = {name: form.get(name) for name in entry.rule.inputs if name in form}
    try:
        loaded: dict[str, Any] = SCHEMAS[entry.action]().load(posted)
    except SchemaError as exc:
        messages = exc.normalized_messages()
        raise ValidationError(fields={name: list(messages[name]) for name in entry.rule.inputs
                                      if name in messages}) from None
    return loaded


def take(report_id: str, action: str, actor: Actor) -> ResponseReturnValue:
    """Run one action of the report page for ``actor`` with the posted form; see the module docstring."""
    permissions.require(actor.role, "police.act" if actor.role == "police" else "review.act")
    report, _ = access.visible_report(report_id_of(report_id), actor)
    entry = ACTIONS.get(action)
    if entry is None:
        raise NotFoundError("找不到该操作")
    if entry.permission is not None:
        permissions.require(actor.role, entry.permission)
    if entry.rule.sensitive and not stepped_up(current_session()):
        return step_up_redirect(label=f"{entry.label}（线索 {report.tracking_no}）")
    version = _version(request.form.get("version"))
    if version is None:
        return render_detail(report.id, actor, status=409, message=CHANGED_MESSAGE)
    settings = current_app.config["QZBG"]
    context = Context(actor=actor, version=version, now=dt.datetime.now(dt.UTC),
                      deadlines=review.deadlines_from(settings), outbound=Outbound.of(settings))
    try:
        done = entry.perform(report, inputs(entry, request.form), context)
    except ConflictError as exc:
        db.session.rollback()
        return render_detail(report.id, actor, status=409, message=exc.message or CHANGED_MESSAGE)
    except ValidationError as exc:
        db.session.rollback()
        return render_detail(report.id, actor, status=422, message=exc.message, errors=dict(exc.fields or {}),
                             failed=action)
    flash(done, "done")
    return redirect(url_for("review.report_detail", report_id=report.id), code=303)


def render_detail(report_id: uuid.UUID, actor: Actor, *, status: int = 200, message: str | None = None,
                  errors: dict[str, list[str]] | None = None, failed: str | None = None,
                  reveal: bool = False) -> ResponseReturnValue:
    """The report page (after a refused action: the error, the typed values, the first bad field in view)."""
    report, transfer = access.visible_report(report_id, actor)
    context = presenters.detail(report, actor, transfer, reveal=reveal)
    errors = errors or {}
    first = next((name for name in RULES[Action(failed)].inputs if name in errors), None) if failed else None
    return render_template(
        "review/detail.html", **context, message=message, errors=errors, failed=failed, first_error=first,
        values=request.form if failed else {},
    ), status
