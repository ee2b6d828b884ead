"""``/admin/outbox``: dead letters with a retry button, what waits, counts per channel; and the staff pages'
banner when no notify worker runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, Flask, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.errors import NotFoundError
from app.notify import dead_letters

bp = Blueprint("outbox_admin", __name__, url_prefix="/admin/outbox")


@bp.get("")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.outbox")
def outbox() -> ResponseReturnValue:
    """Dead letters, newest first, and the queue's state."""
    return render_template("admin/outbox.html", view=dead_letters.overview(current_actor().office_id),
                           now=dt.datetime.now(dt.UTC), age=dead_letters.age_text,
                           channel_labels=dead_letters.CHANNEL_LABELS)


@bp.post("/<message_id>/retry")
@transactional
@staff_required("admin.outbox")
def retry(message_id: str) -> ResponseReturnValue:
    """One dead letter back to the queue, its attempts reset."""
    try:
        found = uuid.UUID(message_id)
    except ValueError:
        raise NotFoundError("找不到该失败消息") from None
    dead_letters.retry(found, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("outbox_admin.outbox"), code=303)


@bp.post("/retry-all")
@transactional
@staff_required("admin.outbox")
def retry_all() -> ResponseReturnValue:
    """Every dead letter of the office back to the queue."""
    dead_letters.retry_all(actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("outbox_admin.outbox"), code=303)


def register(app: Flask) -> None:
    """The blueprint, ``notify_worker_down()`` for staff/base.html's banner (asked only where it shows), and the
    notify package's ear for the reports' news (``app.reports.news``: a new report, a changed status, an answer)."""
    from app.notify.heartbeat import worker_down
    from app.notify.service import hear
    from app.reports import news

    app.register_blueprint(bp)
    news.listen(app, hear)

    @app.context_processor
    def worker_state() -> dict[str, Any]:
        return {"notify_worker_down": worker_down}
