"""What happens to a report that others must hear of, said without knowing who listens.

The reports package announces its news here, in the caller's transaction; whoever listens (the notify package,
which queues its messages: ``app.notify.service.hear``) was registered on the app when it was created
(``app.notify.wiring.register``). Reports so never import the notify package, which reads reports.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from app.reports.models import Report

LISTENERS = "qzbg.report_news"


class News(enum.StrEnum):
    NEW_REPORT = "new_report"  # a report came in
    STATUS_CHANGED = "status_changed"  # the status its reporter sees changed
    REPORTER_ANSWERED = "reporter_answered"  # the reporter answered the office's question


Listener = Callable[["News", "Report", dt.datetime], object]


def listen(app: Flask, listener: Listener) -> None:
    """Have ``listener`` hear every piece of news of ``app``'s reports (once, however often it is asked)."""
    listeners: list[Listener] = app.extensions.setdefault(LISTENERS, [])
    if listener not in listeners:
        listeners.append(listener)


def announce(news: News, report: Report, now: dt.datetime) -> None:
    """Tell every listener, in order, now (in the caller's transaction)."""
    for listener in current_app.extensions.get(LISTENERS, ()):
        listener(news, report, now)
