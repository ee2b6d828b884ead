"""What is past due on a report (DOMAIN.md's deadlines), as conditions on report rows: the review inbox lists by
them, the notify package's escalation reads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, text

from app.reports.models import OPEN_REPORTS, Report
from app.reports.records import Transfer
from app.reports.states import Status


def open_transfer() -> Any:
    return select(Transfer.id).where(Transfer.report_id == Report.id, Transfer.state == "open")


def overdue_conditions(now: dt.datetime) -> dict[str, ColumnElement[bool]]:
    """Each kind of past-due (DOMAIN.md's deadlines) as a condition on a report row."""
    transfer = open_transfer()
    return {
        "acknowledge": and_(Report.acknowledged_at.is_(None), Report.status == Status.NEW.value,
                            Report.acknowledge_due_at < now),
        "police_receipt": exists(transfer.where(Transfer.acknowledged_at.is_(None), Transfer.receipt_due_at < now)),
        "police_feedback": exists(transfer.where(Transfer.feedback_at.is_(None), Transfer.feedback_due_at < now)),
        "supervision_answer": exists(transfer.where(
            Transfer.supervision_requested_at.is_not(None), Transfer.explained_at.is_(None),
            Transfer.concluded_at.is_(None), Transfer.supervision_answer_due_at < now,
        )),
    }


def open_condition() -> ColumnElement[bool]:
    """Not closed, spelled as the partial index's predicate (a literal, so the planner matches the index)."""
    return text(OPEN_REPORTS)  # type: ignore[return-value]


def overdue_condition(now: dt.datetime) -> ColumnElement[bool]:
    return and_(open_condition(), or_(*overdue_conditions(now).values()))
