"""What every channel to staff (WeCom, e-mail, SMS, the sandbox) does in ``prepare``: find the recipient and the
report, and render the message from its ``Facts``, inside the worker's claim transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from app.auth.models import StaffUser
from app.extensions import db
from app.notify import messages
from app.notify.channels import GiveUp
from app.notify.models import OutboxMessage


@dataclasses.dataclass(frozen=True)
class StaffMessage:
    outbox_id: uuid.UUID
    kind: str
    address: str
    facts: messages.Facts
    rendered: messages.Rendered


def facts_for(message: OutboxMessage, public_url: str) -> messages.Facts:
    """The facts of one outbox row: its payload (ids, codes, numbers) and the report's tracking number and
    urgency. Raises GiveUp when the report is gone."""
    from app.reports.models import Report

    payload: dict[str, Any] = message.payload
    tracking_no, urgent = None, False
    if message.report_id is not None:
        report = db.session.get(Report, message.report_id)
        if report is None:
            raise GiveUp("report_gone")
        tracking_no, urgent = report.tracking_no, bool(report.urgent)
    if message.kind == "urgent_escalation":
        urgent = True
    counts = tuple((str(code), int(number)) for code, number in (payload.get("counts") or []))
    return messages.Facts(
        kind=message.kind, at=dt.datetime.fromisoformat(payload["at"]) if payload.get("at") else message.created_at,
        link=messages.staff_link(public_url, message.report_id), tracking_no=tracking_no, urgent=urgent,
        step=payload.get("step"), minutes=payload.get("minutes"), counts=counts,
    )


def recipient(message: OutboxMessage) -> StaffUser:
    try:
        user = db.session.get(StaffUser, uuid.UUID(str(message.payload.get("user_id"))))
    except ValueError:
        user = None
    if user is None or not user.active:
        raise GiveUp("recipient_gone")
    return user


class StaffChannel:
    """Base of the channels to staff: ``address`` says where the user is reached on this channel."""

    name = ""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url  # QZBG_PUBLIC_URL: the messages link to the report's page there

    def address(self, user: StaffUser) -> str | None:
        raise NotImplementedError

    def prepare(self, message: OutboxMessage) -> StaffMessage:
        user = recipient(message)
        address = self.address(user)
        if not address:
            raise GiveUp("no_address")
        facts = facts_for(message, self.public_url)
        return StaffMessage(message.id, message.kind, address, facts, messages.render(facts))

    def record(self, prepared: Any, outcome: str, code: str | None) -> None:
        """Nothing of their own to keep: the outbox row says it all."""
