"""The outbox as an administrator sees it: dead letters, what waits, counts per channel; retrying dead letters.

Scoped to the administrator's office: messages about its reports, and messages
tied to no report. Nothing personal is read: channel, kind, tracking number,
attempts, the last error code and times.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update

from app.audit import service as audit
from app.core.actor import Actor
from app.errors import NotFoundError
from app.extensions import db
from app.notify.models import OutboxMessage
from app.reports.models import Report

DEAD_SHOWN = 200
CHANNEL_LABELS = {
    "wechat_subscribe": "小程序订阅消息", "wecom": "企业微信", "email": "电子邮件", "sms": "短信",
    "sandbox": "沙箱（仅记录）",
}
STATE_LABELS = {"pending": "待发送", "sent": "已发送", "dead": "已放弃"}


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    id: uuid.UUID
    channel: str
    kind: str
    tracking_no: str | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    dead_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Overview:
    dead: list[DeadLetter]
    dead_total: int
    pending: int
    oldest_pending: dt.datetime | None
    by_channel: dict[str, dict[str, int]]  # channel -> state -> count


def _scope(office_id: int | None) -> ColumnElement[bool]:
    return or_(OutboxMessage.report_id.is_(None), Report.office_id == office_id)


def overview(office_id: int | None) -> Overview:
    scope = _scope(office_id)
    dead_rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.kind, Report.tracking_no,
               OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.created_at, OutboxMessage.dead_at)
        .outerjoin(Report, Report.id == OutboxMessage.report_id)
        .where(OutboxMessage.state == "dead", scope)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
        .limit(DEAD_SHOWN)
    ).all()
    counts = db.session.execute(
        select(OutboxMessage.channel, OutboxMessage.state, func.count())
        .outerjoin(Report, Report.id == OutboxMessage.report_id)
        .where(scope)
        .group_by(OutboxMessage.channel, OutboxMessage.state)
    ).all()
    by_channel: dict[str, dict[str, int]] = {}
    for channel, state, count in counts:
        by_channel.setdefault(channel, {"pending": 0, "sent": 0, "dead": 0})[state] = int(count)
    oldest: Any = db.session.scalar(
        select(func.min(OutboxMessage.created_at))
        .outerjoin(Report, Report.id == OutboxMessage.report_id)
        .where(OutboxMessage.state == "pending", scope)
    )
    if oldest is not None and oldest.tzinfo is None:  # SQLite's min() is a plain string: no type decorator
        oldest = oldest.replace(tzinfo=dt.UTC)
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.UTC)
    return Overview(
        dead=[DeadLetter(*row) for row in dead_rows],
        dead_total=sum(c.get("dead", 0) for c in by_channel.values()),
        pending=sum(c.get("pending", 0) for c in by_channel.values()),
        oldest_pending=oldest,
        by_channel=dict(sorted(by_channel.items())),
    )


def _dead_ids(office_id: int | None) -> Select[Any]:
    """Dead letters a retry can revive: not those kept for a recipient with no working channel (channel
    ``none``), which no worker ever claims; they stay listed until the person gets a channel."""
    from app.notify.channels import NONE

    return (select(OutboxMessage.id).outerjoin(Report, Report.id == OutboxMessage.report_id)
            .where(OutboxMessage.state == "dead", OutboxMessage.channel != NONE, _scope(office_id)))


def _revive() -> dict[str, object]:
    return {"state": "pending", "attempts": 0, "dead_at": None, "claimed_by": None}


def retry(message_id: uuid.UUID, *, actor: Actor, now: dt.datetime) -> None:
    """A dead letter back to pending, due now, its attempts reset; audited."""
    done = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.id.in_(_dead_ids(actor.office_id)))
        .values(next_attempt_at=now, **_revive())
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError("找不到该失败消息（可能已被重试）")
    audit.record(actor, "outbox.retry", now=now, target_type="outbox_message", target_id=message_id)


def retry_all(*, actor: Actor, now: dt.datetime) -> int:
    """Every dead letter of the office back to pending; one audit entry with the count."""
    done = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(_dead_ids(actor.office_id)))
        .values(next_attempt_at=now, **_revive())
        .execution_options(synchronize_session=False)
    )
    count = int(done.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(actor, "outbox.retry_all", now=now, target_type="outbox", target_id=count)
    return count


def age_text(since: dt.datetime | None, now: dt.datetime) -> str:
    if since is None:
        return "—"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{seconds // 60} 分钟"
    if seconds < 86400:
        return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分钟"
    return f"{seconds // 86400} 天 {seconds % 86400 // 3600} 小时"
