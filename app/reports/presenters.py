"""What a reporter is shown of a report: one serialisation per answer, beside the schemas that document it."""

from __future__ import annotations

from typing import Any

from app.reports.models import SEALED_SECTIONS, Report
from app.reports.states import REPORTER_STATUS, REPORTER_STATUS_LABELS


def reporter_summary(report: Any) -> dict[str, Any]:
    """A list entry; ``report`` is a Report or a row with its summary columns."""
    status = REPORTER_STATUS[report.status]
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": status,
        "status_label": REPORTER_STATUS_LABELS[status],
        "submitted_at": report.submitted_at,
        "updated_at": report.updated_at,
    }


def created(report: Report) -> dict[str, Any]:
    """The answer to a submission (also to its idempotent repeat)."""
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": REPORTER_STATUS[report.status],
        "submitted_at": report.submitted_at,
    }


def reporter_timeline(report: Report) -> list[dict[str, Any]]:
    """Status steps as the reporter sees them: one entry per change of reporter-visible status."""
    timeline: list[dict[str, Any]] = []
    for event in report.events:
        shown = REPORTER_STATUS[event.to_status]
        if timeline and timeline[-1]["status"] == shown:
            continue
        timeline.append({"at": event.at, "status": shown, "label": REPORTER_STATUS_LABELS[shown]})
    return timeline


def attachment(item: Any) -> dict[str, Any]:
    return {"id": item.id, "filename": item.unseal("filename_data"), "size": item.size,
            "content_type": item.content_type}


def reporter_view(report: Report) -> dict[str, Any]:
    """What the reporter submitted, its status and timeline; no internal notes or police detail."""
    return {
        **reporter_summary(report),
        "categories": report.categories,
        "urgent": report.urgent,
        "unit_id": report.unit_id,
        **{name: report.section(name) for name in SEALED_SECTIONS},
        "attachments": [attachment(a) for a in report.attachments],
        "timeline": reporter_timeline(report),
    }
