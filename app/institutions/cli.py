"""``flask institutions add|rotate|revoke``: register an institution's system and manage its signing keys."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.errors import AppError, ValidationError
from app.institutions import service

institutions_cli = AppGroup("institutions", help="Hospital and hotline systems that send reports (signed API).")


def _fail(exc: AppError) -> click.ClickException:
    if isinstance(exc, ValidationError) and exc.fields:
        return click.ClickException("；".join(f"{name}: {'，'.join(messages)}"
                                             for name, messages in exc.fields.items()))
    return click.ClickException(exc.message)


def _show(key_id: str, secret: str) -> None:
    click.echo(f"key id: {key_id}")
    click.echo(f"secret: {secret}")
    click.echo("The secret is shown this once: give it to the institution's IT department over a safe channel.",
               err=True)


@institutions_cli.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--unit", "unit_code", default=None, help="The member unit (code) whose system this is.")
def add(code: str, name: str, unit_code: str | None) -> None:
    """Register an institution and print its first key id and secret."""
    try:
        with unit_of_work():
            made = service.add(code, name, unit_code=unit_code, vault=get_vault(), now=dt.datetime.now(dt.UTC))
    except AppError as exc:
        raise _fail(exc) from None
    _show(*made)


@institutions_cli.command("rotate")
@click.argument("code")
def rotate(code: str) -> None:
    """Add a second key (both are valid until one is revoked) and print it."""
    try:
        with unit_of_work():
            made = service.rotate(code, vault=get_vault(), now=dt.datetime.now(dt.UTC))
    except AppError as exc:
        raise _fail(exc) from None
    _show(*made)


@institutions_cli.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke one key: requests signed with it are refused from now on."""
    try:
        with unit_of_work():
            service.revoke(key_id, now=dt.datetime.now(dt.UTC))
    except AppError as exc:
        raise _fail(exc) from None
    click.echo(f"key {key_id} revoked")
