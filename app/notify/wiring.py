"""The notify package on an app: the staff pages' banner when no notify worker runs, and the package's ear for the
reports' news."""

from __future__ import annotations

from typing import Any

from flask import Flask


def register(app: Flask) -> None:
    """``notify_worker_down()`` for staff/base.html's banner (asked only where it shows), and the
    notify package's ear for the reports' news (``app.reports.news``: a new report, a changed status, an answer)."""
    from app.notify.heartbeat import worker_down
    from app.notify.service import Ear, Outbound
    from app.reports import news

    news.listen(app, Ear(Outbound.of(app.config["QZBG"])))

    @app.context_processor
    def worker_state() -> dict[str, Any]:
        return {"notify_worker_down": worker_down}
