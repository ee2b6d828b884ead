"""``flask notify run-once|worker``."""

from __future__ import annotations

import datetime as dt
import time

import click
from flask.cli import AppGroup

from app.notify import service

notify_cli = AppGroup("notify", help="Outbox delivery.")


@notify_cli.command("run-once")
def run_once() -> None:
    """Deliver every due message once, then exit."""
    counts = service.deliver_due(now=dt.datetime.now(dt.UTC), limit=10_000)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@notify_cli.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls when idle.")
def worker(interval: float) -> None:
    """Deliver due messages forever (run as a service)."""
    while True:
        counts = service.deliver_due(now=dt.datetime.now(dt.UTC))
        if not any(counts.values()):
            time.sleep(interval)
