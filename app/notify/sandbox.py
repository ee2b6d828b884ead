"""The sandbox channel: it sends nothing and keeps each message, as it would have been sent, in
``notify_sandbox`` (listed on ``/admin/sandbox``). Training mode (``QZBG_TRAINING=1``, ``make demo``) routes every
message here; a training report's messages come here in any mode."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from app.extensions import db
from app.notify import messages
from app.notify.channels import SANDBOX, GiveUp
from app.notify.models import OutboxMessage, SandboxMessage
from app.notify.staff import facts_for, recipient


@dataclasses.dataclass(frozen=True)
class Kept:
    outbox_id: uuid.UUID
    office_id: int | None
    kind: str
    would_be: str
    recipient: str
    title: str
    body: str


def _reporter_message(message: OutboxMessage) -> tuple[str, str]:
    from app.notify import subscribe
    from app.reports.models import Report

    report = db.session.get(Report, message.report_id)
    if report is None:
        raise GiveUp("report_gone")
    payload = message.payload
    data = subscribe.template_data(report.tracking_no, str(payload["status"]), dt.datetime.fromisoformat(payload["at"]))
    return f"报告状态更新 {report.tracking_no}", "\n".join(f"{k}: {v}" for k, v in data.items())


class SandboxChannel:
    name = SANDBOX

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url  # QZBG_PUBLIC_URL: the staff messages link to the report's page there

    def prepare(self, message: OutboxMessage) -> Kept:
        payload: dict[str, Any] = message.payload
        would_be = str(payload.get("would_be") or "none")
        if message.kind == "status_changed":
            who = "reporter"
            title, body = _reporter_message(message)
        else:
            who = recipient(message).username
            rendered = messages.render(facts_for(message, self.public_url))
            title = rendered.title
            body = "，".join(rendered.sms_params) if would_be == "sms" else rendered.text
        return Kept(message.id, payload.get("office_id"), message.kind, would_be, who, title[:200], body[:2000])

    def send(self, prepared: Kept) -> None:
        """Nothing leaves."""

    def record(self, prepared: Kept, outcome: str, code: str | None) -> None:
        if outcome == "sent":
            db.session.add(SandboxMessage(
                id=uuid.uuid4(), outbox_id=prepared.outbox_id, office_id=prepared.office_id, kind=prepared.kind,
                would_be=prepared.would_be, recipient=prepared.recipient, title=prepared.title, body=prepared.body,
                created_at=dt.datetime.now(dt.UTC),
            ))
