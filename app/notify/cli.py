"""``flask notify run-once|worker|jobs``."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from app.notify import heartbeat
from app.notify import jobs as scheduled
from app.notify import worker as outbox

notify_cli = AppGroup("notify", help="Outbox delivery and scheduled jobs.")


@notify_cli.command("run-once")
def run_once() -> None:
    """Deliver every due message once, run the scheduled jobs that are due, then exit."""
    now = dt.datetime.now(dt.UTC)
    identity = heartbeat.Identity.here()
    ran = scheduled.run_due(now, owner=identity.id, settings=current_app.config["QZBG"])
    counts = outbox.deliver_due(now=now, limit=10_000, owner=identity.id)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
    for outcome in ran:
        click.echo(f"job {outcome.name}: {outcome.status}" + (f" ({outcome.error})" if outcome.error else ""))


@notify_cli.command("worker")
@click.option("--interval", type=float, default=None,
              help="Seconds an idle worker waits before looking again (default QZBG_NOTIFY_POLL_MS).")
def worker(interval: float | None) -> None:
    """Deliver due messages and run due jobs until SIGTERM or SIGINT (run as a service); the message in flight
    is finished, the rest of its batch given back."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    outbox.run(interval=interval, stop=stop)


def _cst(value: dt.datetime | None) -> str:
    return value.astimezone(scheduled.CST).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@notify_cli.command("jobs")
def list_jobs() -> None:
    """The scheduled jobs with their schedule, last run and next run (China Standard Time)."""
    now = dt.datetime.now(dt.UTC)
    header = ("job", "schedule", "last started", "last finished", "status", "next run", "running")
    rows = []
    for job, run in scheduled.status():
        if run is None:
            rows.append((job.name, job.schedule, "-", "-", "never run", _cst(job.first_run(now)), ""))
            continue
        status = (run.last_status or "never run") + (f" ({run.last_error})" if run.last_error else "")
        running = run.lease_owner or "" if run.lease_until > now else ""
        rows.append((job.name, job.schedule, _cst(run.last_started), _cst(run.last_finished), status,
                     _cst(run.next_run), running))
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    down = heartbeat.worker_down(now, fresh=True)
    click.echo("no notify worker has beaten for 2 minutes" if down else "a notify worker is running")
