"""``/review/``: the inbox (tabs by status with counts, newest and urgent first)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.reports.constants import CATEGORIES, CATEGORY_SHORT
from app.reports.states import STATUS_LABELS
from app.review import queries

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/overdue")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def overdue() -> ResponseReturnValue:
    """What is past due, by kind (DOMAIN.md's deadlines)."""
    now = dt.datetime.now(dt.UTC)
    return render_template("review/overdue.html", found=queries.overdue(current_actor(), now=now),
                           kinds=queries.OVERDUE_KINDS, now=now, timer=queries.timer_text, labels=STATUS_LABELS)


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def inbox() -> ResponseReturnValue:
    """The office's reports, urgent and overdue first, filtered and searched (police: their unit's list)."""
    actor = current_actor()
    now = dt.datetime.now(dt.UTC)
    filters = queries.parse_filters(request.args)
    rows, cursor = queries.inbox(actor, filters, now=now)
    return render_template(
        "review/inbox.html", counts=queries.status_counts(actor, filters, now=now), rows=rows, cursor=cursor,
        labels=STATUS_LABELS, filters=filters, now=now, timer=queries.timer_text, short=CATEGORY_SHORT,
        categories=CATEGORIES, police=actor.role == "police",
    )
