"""Reads of reports: lists and keyset cursors. Nothing here changes state."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select

from app.errors import ValidationError
from app.extensions import db
from app.reports.models import Report, ReportCategory
from app.reports.presenters import reporter_summary


def encode_cursor(submitted_at: dt.datetime, report_id: uuid.UUID) -> str:
    raw = f"{submitted_at.isoformat()}|{report_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, report_id = raw.partition("|")
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive cursor")
        return when.astimezone(dt.UTC), uuid.UUID(report_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(fields={"cursor": ["分页参数无效，请从第一页重新加载"]}) from None


def reporter_page_query(
    reporter_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Select[uuid.UUID, str, str, dt.datetime, dt.datetime]:
    """One page of a reporter's reports, newest first: the summary columns only, read along
    ``ix_reports_reporter_id_submitted_at_id`` (no sort, no sealed column, no data key)."""
    stmt = (
        select(Report.id, Report.tracking_no, Report.status, Report.submitted_at, Report.updated_at)
        .where(Report.reporter_id == reporter_id)
        .order_by(Report.submitted_at.desc(), Report.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        at, report_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Report.submitted_at < at, and_(Report.submitted_at == at, Report.id < report_id)))
    return stmt


def reporter_reports(reporter_id: uuid.UUID, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of a reporter's own reports, newest first: only the summary columns are read."""
    rows = db.session.execute(reporter_page_query(reporter_id, limit=limit, cursor=cursor)).all()
    page = rows[:limit]
    return {
        "items": [reporter_summary(row) for row in page],
        "next_cursor": encode_cursor(page[-1].submitted_at, page[-1].id) if len(rows) > len(page) else None,
    }


def report_id_by_client_key(client_key: str) -> uuid.UUID | None:
    """The id of the report stored under this idempotency key: one unique-index look-up, no row loaded."""
    return db.session.scalar(select(Report.id).where(Report.client_key == client_key))


def find_by_client_key(client_key: str) -> Report | None:
    return db.session.scalars(select(Report).where(Report.client_key == client_key)).one_or_none()


def has_category(code: str) -> ColumnElement[bool]:
    """A filter on reports of one category code, the same SQL on SQLite and PostgreSQL (index on code)."""
    return exists().where(ReportCategory.report_id == Report.id, ReportCategory.code == code)


def reporter_report(reporter_id: uuid.UUID, report_id: uuid.UUID) -> Report:
    """The reporter's own report; anyone else's is not found (not forbidden: no existence leak)."""
    from app.errors import NotFoundError

    report = db.session.get(Report, report_id)
    if report is None or report.reporter_id != reporter_id:
        raise NotFoundError("找不到该报告")
    return report
