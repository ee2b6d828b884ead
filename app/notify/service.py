"""Queue notifications with the change they announce, in the caller's transaction.

Services call ``enqueue(kind, ...)`` explicitly for each consequence of an
action; this module asks ``app.notify.routing`` who hears it and on which
channels, and adds one outbox row per message. Nothing is sent here: the worker
(``app.notify.worker``) delivers later, outside any request.

A training deployment (``QZBG_TRAINING=1``) and a training report send nothing real: each message becomes a
row of the ``sandbox`` channel, which only records it. A recipient who cannot be reached on any working
channel is never dropped silently: the row is kept on channel ``none``, dead with ``no_channel`` (or
``no_recipient`` when the office has nobody to tell), and listed on ``/admin/roster``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.extensions import db
from app.notify import routing
from app.notify.channels import NONE, SANDBOX, configured_channels
from app.notify.models import STAFF_CHANNELS, OutboxMessage

if TYPE_CHECKING:
    from app.reports.models import Report
    from app.reports.records import Transfer


class Kind(enum.StrEnum):
    REPORTER_STATUS_CHANGED = "status_changed"  # the status a reporter sees changed
    NEW_REPORT = "new_report"  # -> on duty (urgent: every channel)
    URGENT_ESCALATION = "urgent_escalation"  # -> leads, every channel, repeated until acknowledged
    TRANSFER = "transfer"  # -> the police unit's users
    REPORTER_ANSWERED = "reporter_answered"  # -> the assigned prosecutor
    POLICE_RESPONDED = "police_responded"  # police returned, gave feedback or explained -> the assigned prosecutor
    POLICE_RECEIPT_OVERDUE = "police_receipt_overdue"  # -> the assigned prosecutor
    POLICE_FEEDBACK_OVERDUE = "police_feedback_overdue"  # -> the assigned prosecutor
    DAILY_DIGEST = "daily_digest"  # -> one prosecutor: what waits


@dataclasses.dataclass(frozen=True)
class Outbound:
    """What queueing a message needs of the settings: training mode (``QZBG_TRAINING``: only the sandbox), the
    configured channels, and the reporters' status template (``QZBG_WECHAT_STATUS_TEMPLATE_ID``)."""

    training: bool
    channels: tuple[str, ...]
    status_template_id: str | None

    @classmethod
    def of(cls, settings: Settings) -> Outbound:
        return cls(training=settings.training, channels=tuple(configured_channels(settings)),
                   status_template_id=settings.wechat_status_template_id)


def sandboxed(report: Report | None, training: bool) -> bool:
    """Training mode (``training``: ``QZBG_TRAINING``), or a training report (``report.training``, when the column
    exists)."""
    return bool(training or getattr(report, "training", False))


def _recipients(kind: Kind, report: Report | None, transfer: Transfer | None, now: dt.datetime,
                ) -> list[routing.Recipient]:
    assert report is not None
    if kind is Kind.NEW_REPORT:
        return routing.on_duty(report.office_id, now)
    if kind is Kind.URGENT_ESCALATION:
        return routing.leads(report.office_id)
    if kind is Kind.TRANSFER:
        assert transfer is not None
        return routing.police_users(transfer.police_unit_id)
    return routing.assignee_or_leads(report.assignee_id, report.office_id)


def enqueue(
    kind: Kind, *, outbound: Outbound, report: Report | None = None, now: dt.datetime,
    transfer: Transfer | None = None,
    recipients: list[routing.Recipient] | None = None, office_id: int | None = None, **facts: Any,
) -> list[OutboxMessage]:
    """Queue the messages ``kind`` of event on ``report`` calls for; returns them (maybe none).

    ``recipients`` replaces the routing (the digest names its one prosecutor); ``facts`` go into the payload
    (``step`` and ``minutes`` of an escalation, ``counts`` of a digest): ids, codes and numbers only.
    """
    if kind is Kind.REPORTER_STATUS_CHANGED:
        return _reporter_status(report, now, outbound)
    sandbox = sandboxed(report, outbound.training)
    live = set(STAFF_CHANNELS) if sandbox else set(outbound.channels)
    every = kind is Kind.URGENT_ESCALATION or (kind is Kind.NEW_REPORT and bool(report and report.urgent))
    rank = priority_of(kind, urgent=bool(report and report.urgent))
    targets = recipients if recipients is not None else _recipients(kind, report, transfer, now)
    report_id = report.id if report is not None else None
    office = office_id if office_id is not None else (report.office_id if report is not None else None)
    base = {"at": now.isoformat(), "office_id": office, **facts}
    messages: list[OutboxMessage] = []
    if not targets and not sandbox:  # a practice report nobody would hear of leaves no dead letter behind
        messages.append(_unreachable(kind, now, {**base, "reason": "no_recipient"}, report_id))
    for target in targets:
        payload = {**base, "user_id": str(target.user.id)}
        channels = routing.pick(target, live, every=every)
        if not channels and not sandbox:
            messages.append(_unreachable(kind, now, {**payload, "reason": "no_channel"}, report_id))
            continue
        for channel in channels or [NONE]:  # in the sandbox, "would have reached nobody" is shown too
            if sandbox:
                messages.append(queue(SANDBOX, kind, now=now, payload={**payload, "would_be": channel},
                                      report_id=report_id))
            else:
                messages.append(queue(channel, kind, now=now, payload=payload, report_id=report_id, priority=rank))
    return messages


# The reports package's news (app.reports.news), and the kind of message each calls for.
NEWS_KINDS = {"new_report": Kind.NEW_REPORT, "status_changed": Kind.REPORTER_STATUS_CHANGED,
              "reporter_answered": Kind.REPORTER_ANSWERED}


@dataclasses.dataclass(frozen=True)
class Ear:
    """The notify package's listener to the reports' news (``app.reports.news``), with the settings of its app
    (``app.notify.wiring.register``): queues what each piece of news calls for, in the caller's transaction."""

    outbound: Outbound

    def __call__(self, news: str, report: Report, now: dt.datetime) -> None:
        enqueue(NEWS_KINDS[news], outbound=self.outbound, report=report, now=now)


def _reporter_status(report: Report | None, now: dt.datetime, outbound: Outbound) -> list[OutboxMessage]:
    from app.notify import subscribe

    assert report is not None
    payload = subscribe.status_payload(report, now, outbound.status_template_id)
    if payload is None:
        return []
    if sandboxed(report, outbound.training):
        return [queue(SANDBOX, Kind.REPORTER_STATUS_CHANGED, now=now, report_id=report.id,
                      reporter_id=report.reporter_id,
                      payload={**payload, "would_be": subscribe.CHANNEL, "office_id": report.office_id})]
    return [queue(subscribe.CHANNEL, Kind.REPORTER_STATUS_CHANGED, now=now, payload=payload, report_id=report.id,
                  reporter_id=report.reporter_id)]


def _unreachable(kind: str, now: dt.datetime, payload: dict[str, Any], report_id: uuid.UUID | None,
                 ) -> OutboxMessage:
    """Kept, not sent: dead at once on channel ``none`` with its reason, for the roster page to list."""
    message = queue(NONE, kind, now=now, payload=payload, report_id=report_id)
    message.state, message.last_error = "dead", payload["reason"]
    return message


# The order the worker delivers in (``OutboxMessage.priority``, lowest first; then oldest first): an urgent report's
# first word to the prosecutors on duty before anything else; then what a person is waiting on now (a new
# report, a transfer, an answer, the police's response, an escalation of an urgent report, the reporter's status);
# last what a scheduled job queues in bulk (police deadlines passed, the daily digest), however many there are.
URGENT, NORMAL, BULK = 0, 1, 2
BULK_KINDS = frozenset({"police_receipt_overdue", "police_feedback_overdue", "daily_digest"})


def priority_of(kind: str, *, urgent: bool = False) -> int:
    if kind == "new_report" and urgent:
        return URGENT
    return BULK if kind in BULK_KINDS else NORMAL


def queue(
    channel: str, kind: str, *, now: dt.datetime, payload: dict[str, Any],
    report_id: uuid.UUID | None = None, reporter_id: uuid.UUID | None = None, priority: int | None = None,
) -> OutboxMessage:
    """Add one message for one channel to the caller's transaction (``priority``: ``priority_of(kind)``)."""
    message = OutboxMessage(
        id=uuid.uuid4(), channel=channel, kind=str(kind), payload=payload, report_id=report_id,
        reporter_id=reporter_id, next_attempt_at=now, created_at=now,
        priority=priority_of(str(kind)) if priority is None else priority,
    )
    db.session.add(message)
    return message
