"""``flask notify run-once|worker``."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import Any

import click
from flask.cli import AppGroup

from app.notify import worker as outbox

notify_cli = AppGroup("notify", help="Outbox delivery.")


@notify_cli.command("run-once")
def run_once() -> None:
    """Deliver every due message once, then exit."""
    counts = outbox.deliver_due(now=dt.datetime.now(dt.UTC), limit=10_000)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@notify_cli.command("worker")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls when idle.")
def worker(interval: float) -> None:
    """Deliver due messages until SIGTERM or SIGINT (run as a service); the batch in hand is finished."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    outbox.run(interval=interval, stop=stop)
