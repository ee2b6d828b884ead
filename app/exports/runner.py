"""The export runner: a loop in the notify worker (``notify.worker.add_loop``), one export at a time, apart from
deliveries and the scheduled jobs, so that a year's register never holds up an urgent message."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from flask import Flask

from app.crypto.vault import get_vault
from app.exports import service

log = logging.getLogger("qzbg.exports")
IDLE_WAIT = 1.0  # seconds between looks when nothing waits (an export page refreshes every 2)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def loop(app: Flask, stop: threading.Event, owner: str) -> None:
    """Write exports until ``stop``; a failing look (a database outage) backs off and never ends the loop."""
    from app.extensions import db

    failures = 0
    with app.app_context():
        while not stop.is_set():
            try:
                ran = service.run_next(owner=owner, settings=app.config["QZBG"], vault=get_vault(), clock=_now)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the loop outlives an outage
                ran, failures = False, failures + 1
                log.error("export_runner_failed", extra={"exception": type(exc).__name__, "failures": failures})
                db.session.rollback()
            finally:
                db.session.remove()
            if not ran:
                stop.wait(IDLE_WAIT * 2 ** min(failures, 5))


def init_app(app: Any) -> None:
    from app.notify.worker import add_loop

    add_loop(app, loop)
