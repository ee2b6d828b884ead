"""A member unit's reports: how many name it, and the list its liaison sees (app/review/liaison.py), each as
its reporter would see it.

Practice reports are never a unit's: they are left out of every count and list here."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select

from app.extensions import db
from app.reports.models import Report
from app.reports.states import REPORTER_STATUS, REPORTER_STATUS_LABELS
from app.units.models import Unit
from app.units.queries import PER_PAGE


def report_counts(unit_ids: list[int]) -> dict[int, int]:
    """Unit id -> the reports naming it, for these units (absent: none)."""
    if not unit_ids:
        return {}
    stmt = (select(Report.unit_id, func.count())
            .where(Report.unit_id.in_(unit_ids), Report.training.is_(False)).group_by(Report.unit_id))
    return dict(db.session.execute(stmt).all())  # type: ignore[arg-type]


def report_count(unit: Unit) -> int:
    """The unit's reports; practice reports never count."""
    return db.session.scalar(
        select(func.count()).select_from(Report).where(Report.unit_id == unit.id, Report.training.is_(False))
    ) or 0


@dataclasses.dataclass(frozen=True)
class UnitReportRow:
    tracking_no: str
    submitted_at: dt.datetime
    status: str  # the internal status; shown only through the reporter's mapping


def unit_reports(unit_id: int, page: int = 1) -> tuple[list[UnitReportRow], int]:
    """A unit's reports, newest first: tracking number, time and status only (no content is even read).
    Practice reports are left out: they are not the unit's reports, and they never count."""
    real = (Report.unit_id == unit_id, Report.training.is_(False))
    base = select(Report.tracking_no, Report.submitted_at, Report.status).where(*real)
    total = db.session.scalar(select(func.count()).select_from(Report).where(*real)) or 0
    pages = max(1, -(-total // PER_PAGE))
    rows = db.session.execute(base.order_by(Report.submitted_at.desc(), Report.id.desc())
                              .offset((min(page, pages) - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return [UnitReportRow(*row) for row in rows], pages


@dataclasses.dataclass(frozen=True)
class ReportStatusView:
    tracking_no: str
    submitted_at: dt.datetime
    status: str  # the reporter-visible status code (submitted, received, transferred, closed)
    label: str


def report_status(row: UnitReportRow) -> ReportStatusView:
    """Only what a reporter sees of their own report: never the internal status, never a content field."""
    shown = REPORTER_STATUS[row.status]
    return ReportStatusView(row.tracking_no, row.submitted_at, str(shown), REPORTER_STATUS_LABELS[shown])
