"""``flask units import FILE`` and ``flask units fetch-codes``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.clients.wechat import configured
from app.core.actor import Actor
from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.errors import AppError
from app.units import qrcodes, service

units_cli = AppGroup("units", help="Member units.")


def _fetch_codes(codes: list[str] | None, *, refresh: bool = False) -> int:
    """Fetch missing mini-program codes and say how it went; the number that failed."""
    settings = current_app.config["QZBG"]
    if not configured(settings):
        click.echo("mini-program codes: not fetched, WeChat is not configured (QZBG_WECHAT_APPID / SECRET)")
        return 0
    outcome = qrcodes.fetch_missing(codes, settings=settings, refresh=refresh)
    click.echo(f"mini-program codes: {outcome.fetched} fetched, {outcome.current} already current, "
               f"{outcome.failed} failed")
    if outcome.failed:
        click.echo("some mini-program codes could not be fetched from WeChat; run `flask units fetch-codes` "
                   "later (their posters show the web QR code meanwhile)", err=True)
    return outcome.failed


@units_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_units(path: Path) -> None:
    """Create or update member units from an .xlsx, CSV or JSON file (all rows or none: every bad row is
    listed with its row number), then fetch their mini-program codes (a WeChat failure leaves the import in
    place: retry with fetch-codes)."""
    try:
        with unit_of_work():
            result = service.import_rows(service.read_rows(path), office_id=None, actor=Actor.system(),
                                         now=dt.datetime.now(dt.UTC), vault=get_vault())
    except service.ImportRejected as exc:
        raise click.ClickException("\n".join([exc.message, *(p.text for p in exc.problems)])) from None
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"units: {result.created} created, {result.updated} updated")
    _fetch_codes(result.codes)


@units_cli.command("fetch-codes")
@click.option("--refresh", is_flag=True, help="Fetch every active unit's code again, current ones included.")
def fetch_codes(refresh: bool) -> None:
    """Fetch the mini-program codes that active units lack (after a WeChat failure at import);
    exits 1 if some still failed, so a cron job can alert."""
    if _fetch_codes(None, refresh=refresh):
        raise SystemExit(1)
