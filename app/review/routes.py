"""``/review/``: the inbox (tabs by status with counts, newest and urgent first)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.reports.states import STATUS_LABELS
from app.review import queries

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def inbox() -> ResponseReturnValue:
    """The office's reports by status (police: what was transferred to their unit)."""
    actor = current_actor()
    status = request.args.get("status") or None
    return render_template(
        "review/inbox.html", counts=queries.status_counts(actor), reports=queries.inbox(actor, status=status),
        labels=STATUS_LABELS, status=status,
    )
