"""``flask demo seed|reset``: synthetic zh-CN data for a training deployment (``QZBG_TRAINING=1`` only)."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from app.crypto.vault import get_vault
from app.demo import reset
from app.demo import seed as demo

demo_cli = AppGroup("demo", help="Training and demo data (QZBG_TRAINING=1 only).")


def _print(result: demo.Seeded) -> None:
    statuses = ", ".join(f"{status} {n}" for status, n in sorted(result.by_status.items()))
    click.echo(f"demo seeded: {result.units} units, {result.police_units} police units, {result.reports} reports "
               f"({statuses}; and {demo.TRAINING_REPORTS} practice reports)")
    for account in result.accounts:
        click.echo(account.line())


def _run(*, empty: bool, reports: int, seed: int) -> None:
    settings = current_app.config["QZBG"]
    now = dt.datetime.now(dt.UTC)
    try:
        if empty:
            result = reset.reset_data(settings=settings, vault=get_vault(), actor=None, now=now, fresh=True,
                                      reports_count=reports, seed_value=seed).seeded
        else:
            result = reset.seed_empty(settings=settings, vault=get_vault(), now=now, reports_count=reports,
                                      seed_value=seed)
    except demo.NotTraining as exc:
        raise click.ClickException(str(exc)) from None
    assert result is not None  # a fresh reset seeds
    _print(result)


@demo_cli.command("seed")
@click.option("--reports", default=demo.REPORTS, show_default=True, help="How many reports to make.")
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed of the synthetic data.")
def seed_command(reports: int, seed_value: int) -> None:
    """Fill an empty training database: units, police units, staff accounts, reports in every status (and the
    snapshot a reset from /training/ puts back)."""
    _run(empty=False, reports=reports, seed=seed_value)


@demo_cli.command("reset")
@click.option("--reports", default=demo.REPORTS, show_default=True, help="How many reports to make.")
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed of the synthetic data.")
def reset_command(reports: int, seed_value: int) -> None:
    """Empty the training database (every staff session ends) and seed it afresh; the demo accounts keep their
    passwords and TOTP secrets."""
    _run(empty=True, reports=reports, seed=seed_value)
