"""``flask demo seed|reset``: synthetic zh-CN data for a training deployment (``QZBG_TRAINING=1`` only)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.demo import seed as demo

demo_cli = AppGroup("demo", help="Training and demo data (QZBG_TRAINING=1 only).")


def _print(result: demo.Seeded) -> None:
    statuses = ", ".join(f"{status} {n}" for status, n in sorted(result.by_status.items()))
    click.echo(f"demo seeded: {result.units} units, {result.police_units} police units, {result.reports} reports "
               f"({statuses}; and {demo.TRAINING_REPORTS} practice reports)")
    for account in result.accounts:
        click.echo(account.line())


def _run(*, empty: bool, reports: int, seed: int) -> None:
    blobs: list[Path] = []
    try:
        with unit_of_work():
            settings = current_app.config["QZBG"]
            if empty:
                blobs = demo.empty_database(settings)
            result = demo.seed(settings=settings, vault=get_vault(), now=dt.datetime.now(dt.UTC), seed=seed,
                               reports_count=reports)
    except demo.NotTraining as exc:
        raise click.ClickException(str(exc)) from None
    for path in blobs:  # the rows are gone: their sealed blobs go too
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    _print(result)


@demo_cli.command("seed")
@click.option("--reports", default=demo.REPORTS, show_default=True, help="How many reports to make.")
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed of the synthetic data.")
def seed_command(reports: int, seed_value: int) -> None:
    """Fill an empty training database: units, police units, staff accounts, reports in every status."""
    _run(empty=False, reports=reports, seed=seed_value)


@demo_cli.command("reset")
@click.option("--reports", default=demo.REPORTS, show_default=True, help="How many reports to make.")
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed of the synthetic data.")
def reset_command(reports: int, seed_value: int) -> None:
    """Empty the training database (every row but the default office) and seed it again."""
    _run(empty=True, reports=reports, seed=seed_value)
