"""``/admin/outbox``: dead letters with a retry button, what waits, counts per channel."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from app.admin.blueprint import bp
from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.errors import NotFoundError
from app.notify import dead_letters


@bp.get("/outbox")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.outbox")
def outbox() -> ResponseReturnValue:
    """Dead letters, newest first, and the queue's state."""
    return render_template("admin/outbox.html", view=dead_letters.overview(current_actor().office_id),
                           now=dt.datetime.now(dt.UTC), age=dead_letters.age_text,
                           channel_labels=dead_letters.CHANNEL_LABELS)


@bp.post("/outbox/<message_id>/retry")
@transactional
@staff_required("admin.outbox")
def outbox_retry(message_id: str) -> ResponseReturnValue:
    """One dead letter back to the queue, its attempts reset."""
    try:
        found = uuid.UUID(message_id)
    except ValueError:
        raise NotFoundError("找不到该失败消息") from None
    dead_letters.retry(found, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("admin.outbox"), code=303)


@bp.post("/outbox/retry-all")
@transactional
@staff_required("admin.outbox")
def outbox_retry_all() -> ResponseReturnValue:
    """Every dead letter of the office back to the queue."""
    dead_letters.retry_all(actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("admin.outbox"), code=303)


