"""What the unit pages show: a liaison's opened contact details, a unit report as its reporter would see it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from app.reports.states import REPORTER_STATUS, REPORTER_STATUS_LABELS
from app.units.models import UnitLiaison
from app.units.queries import UnitReportRow


@dataclasses.dataclass(frozen=True)
class LiaisonView:
    id: uuid.UUID
    name: str
    phone: str


def liaison(row: UnitLiaison) -> LiaisonView:
    return LiaisonView(row.id, row.unseal("name_data"), row.unseal("phone_data"))


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
