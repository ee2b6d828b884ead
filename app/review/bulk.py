"""The inbox's bulk actions: 签收 (``acknowledge``) or 指派 (``assign``) the reports ticked on the list.

Each report goes through the same entry of the action pipeline as on its own page (``actions.ACTIONS``: the
access rule, the state machine, the version the list was rendered from, the service and its audit entry), in a
transaction of its own (``each_its_own`` of ``app/core/db.py``): a report changed since the list was shown, in a
status the action does not apply to, or out of the user's reach is skipped and named, and the others are done.
The user lands back on the list with a sentence saying what was done and what was skipped, by tracking number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from flask import flash, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.auth import permissions
from app.auth.guard import safe_next
from app.auth.models import StaffUser
from app.config import Settings
from app.core.actor import Actor
from app.core.db import each_its_own
from app.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from app.extensions import db
from app.notify.service import Outbound
from app.reports.service import ReportChangedError
from app.review import access, actions
from app.review import service as review

BULK_ACTIONS = {"acknowledge": "签收", "assign": "指派"}
MOST = 200  # reports in one bulk action (a page shows 50)


def selection(values: list[str]) -> tuple[list[tuple[uuid.UUID, int]], int]:
    """The ticked reports (``<uuid>:<version>`` each, as the list renders them), once each in the order given, and
    how many values meant nothing."""
    chosen: dict[uuid.UUID, int] = {}
    bad = 0
    for value in values:
        report_id, _, version = (value or "").partition(":")
        try:
            key = uuid.UUID(report_id)
        except ValueError:
            bad += 1
            continue
        if not version.isdigit() or len(version) > 9:
            bad += 1
            continue
        chosen.setdefault(key, int(version))
    return list(chosen.items()), bad


def _assignee(username: str | None, actor: Actor) -> StaffUser | None:
    """The office's active prosecutor or lead of that user name, if any."""
    name = (username or "").strip().lower()
    if not name:
        return None
    user: StaffUser | None = db.session.scalars(select(StaffUser).where(StaffUser.username == name)).first()
    if user is None or user.office_id != actor.office_id or user.role not in ("prosecutor", "lead") or not user.active:
        return None
    return user


def _why(exc: Exception, action: str) -> str:
    if isinstance(exc, ReportChangedError):
        return "已被他人修改"
    if isinstance(exc, NotFoundError):
        return "不在您的办理范围内"
    if isinstance(exc, ForbiddenError):
        return "您无权进行此操作"
    if isinstance(exc, ValidationError):
        messages = [m for ms in (exc.fields or {}).values() for m in ms]
        return messages[0] if messages else (exc.message or "输入有误")
    return f"当前状态不能{BULK_ACTIONS[action]}"


def _back(message: str, category: str = "error") -> ResponseReturnValue:
    flash(message, category)
    return redirect(safe_next(request.form.get("next"), "/review/"), code=303)


def take(actor: Actor, *, settings: Settings) -> ResponseReturnValue:
    """Run one bulk action of the inbox's form for ``actor`` (with the deadlines and outbound messages of
    ``settings``, as on the report's page); see the module docstring."""
    action = request.form.get("action") or ""
    if action not in BULK_ACTIONS:
        return _back("请选择批量操作：签收或指派")
    entry = actions.ACTIONS[action]
    if entry.permission is not None:
        permissions.require(actor.role, entry.permission)
    chosen, bad = selection(request.form.getlist("report"))
    if not chosen:
        return _back("请先勾选要操作的线索")
    if len(chosen) > MOST:
        return _back(f"一次最多操作 {MOST} 条线索，请分批进行")
    data: dict[str, str] = {}
    if action == "assign":
        assignee = _assignee(request.form.get("assignee"), actor)
        if assignee is None:
            return _back("请选择承办人（本院在职的检察官）")
        data["assignee"] = assignee.username
    context = actions.Context(actor=actor, version=0, now=dt.datetime.now(dt.UTC),
                              deadlines=review.deadlines_from(settings), outbound=Outbound.of(settings))
    done: list[str] = []
    skipped: list[tuple[str | None, str]] = []
    sentence = ""
    for report_id, version in chosen:
        number = None
        try:
            with each_its_own():
                report, _ = access.visible_report(report_id, actor)
                number = report.tracking_no
                sentence = entry.perform(report, data, dataclasses.replace(context, version=version))
        except (ConflictError, NotFoundError, ForbiddenError, ValidationError) as exc:
            skipped.append((number, _why(exc, action)))
        else:
            done.append(number)
    if done:
        what = sentence.split("，")[0] if action == "acknowledge" else sentence
        flash(f"{what}：{len(done)} 条（{'、'.join(done)}）", "done")
    unknown = bad + sum(1 for number, _ in skipped if number is None)
    reasons = [f"{number}（{why}）" for number, why in skipped if number]
    if unknown:
        reasons.append(f"{unknown} 条无法找到")
    if reasons:
        flash(f"跳过 {len(skipped) + bad} 条：{'；'.join(reasons)}。请刷新列表查看最新状态", "skipped")
    return redirect(safe_next(request.form.get("next"), "/review/"), code=303)
