"""``/admin/roster`` (the duty roster; leads and admins) and ``/admin/sandbox`` (what the sandbox channel kept)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.admin.blueprint import bp
from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.errors import ValidationError
from app.extensions import db
from app.notify import queries, roster
from app.notify.channels import configured_channels
from app.notify.messages import EVENTS
from app.notify.models import STAFF_CHANNELS, WEEKDAYS
from app.notify.service import sandboxed

CHANNEL_LABELS = {**STAFF_CHANNELS, "wechat_subscribe": "小程序订阅消息", "sandbox": "沙盒（只记录）",
                  "none": "无可用渠道"}
REASONS = {
    "no_channel": "该人员没有可用的通知渠道（未填写企业微信账号、邮箱或手机号，或该渠道未配置）",
    "no_recipient": "本院没有可通知的在岗人员",
}
FIELD_LABELS = {"user": "值班人员", "weekdays": "星期", "start": "开始时间", "end": "结束时间", "channels": "通知方式"}


def _form() -> dict[str, Any]:
    form = request.form
    return {"user": form.get("user", ""), "weekdays": form.getlist("weekdays"), "start": form.get("start", ""),
            "end": form.get("end", ""), "channels": form.getlist("channels")}


def _page(status: int = 200, errors: dict[str, list[str]] | None = None, values: dict[str, Any] | None = None,
          ) -> ResponseReturnValue:
    office_id = current_actor().office_id
    assert office_id is not None
    # In training mode the sandbox stands in for every staff channel (app.notify.service.enqueue).
    settings = current_app.config["QZBG"]
    configured = configured_channels(settings)
    live = list(STAFF_CHANNELS) if sandboxed(None, settings.training) else configured
    return render_template(
        "admin/roster.html", shifts=queries.shifts(office_id), people=queries.reviewers(office_id),
        unreachable=queries.unreachable(office_id), without_channel=queries.without_channel(office_id, live),
        weekdays=WEEKDAYS, staff_channels=STAFF_CHANNELS,
        channel_labels=CHANNEL_LABELS, configured=configured, events=EVENTS, reasons=REASONS,
        errors=errors or {}, field_labels=FIELD_LABELS,
        values=values or {"weekdays": [str(d) for d in range(7)], "start": "08:30", "end": "17:30",
                          "channels": list(STAFF_CHANNELS)[:1]},
        done=request.args.get("done"),
    ), status


@bp.get("/roster")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.roster")
def roster_page() -> ResponseReturnValue:
    """The office's duty roster, the form to add a shift, and the messages that reached nobody."""
    return _page()


@bp.post("/roster")
@transactional
@staff_required("admin.roster")
def roster_add() -> ResponseReturnValue:
    values = _form()
    try:
        roster.add_shift(values, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        db.session.rollback()
        return _page(422, dict(exc.fields or {}), values)
    return redirect(url_for("admin.roster_page", done="added"), code=303)


@bp.post("/roster/<shift_id>/delete")
@transactional
@staff_required("admin.roster")
def roster_remove(shift_id: str) -> ResponseReturnValue:
    roster.remove_shift(shift_id, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("admin.roster_page", done="removed"), code=303)


@bp.get("/sandbox")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.outbox")
def sandbox_page() -> ResponseReturnValue:
    """What the sandbox channel kept instead of sending (training mode, training reports), newest first."""
    office_id = current_actor().office_id
    assert office_id is not None
    return render_template("admin/sandbox.html", kept=queries.sandbox(office_id), channel_labels=CHANNEL_LABELS,
                           events={**EVENTS, "status_changed": "报告状态更新"},
                           configured=configured_channels(current_app.config["QZBG"]))
