"""``flask keys init|rotate|retire|status``."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit import service as audit
from app.config import ConfigError
from app.crypto import service
from app.crypto.vault import get_vault

keys_cli = AppGroup("keys", help="Field-encryption keys.")


@keys_cli.command("init")
def init_keys() -> None:
    """Create the keyring (KEK and blind-index key) if it does not exist yet."""
    path = current_app.config["QZBG"].keyring_path
    ring = service.init_keyring(path)
    if ring is None:
        click.echo(f"keyring exists: {path} (unchanged)")
    else:
        click.echo(f"keyring created: {path} (current key {ring.current})")


@keys_cli.command("rotate")
@click.option("--resume", is_flag=True, help="Only finish re-wrapping under the current key.")
@click.option("--batch-size", default=500, show_default=True)
@click.option("--max-batches", type=int, default=None, help="Stop after this many batches (resume later).")
def rotate_keys(resume: bool, batch_size: int, max_batches: int | None) -> None:
    """Add a new key-encryption key and re-wrap every data key under it, in batches."""
    vault = get_vault()
    path = current_app.config["QZBG"].keyring_path
    if not resume:
        new_kek = service.start_rotation(vault, path)
        audit.record_command("keys.rotate", now=dt.datetime.now(dt.UTC), target_type="kek", target_id=new_kek)
        click.echo(f"new current key: {new_kek}")
    done = service.rewrap_batches(
        vault, clock=lambda: dt.datetime.now(dt.UTC), batch_size=batch_size, max_batches=max_batches,
        progress=lambda n: click.echo(f"re-wrapped {n}"),
    )
    left = service.pending_count(vault)
    click.echo(f"re-wrapped {done} data keys; {left} still under older keys")
    if left:
        click.echo("run `flask keys rotate --resume` to finish")


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_key(kek_id: str) -> None:
    """Destroy an old key-encryption key that no data key needs any more."""
    try:
        service.retire(get_vault(), current_app.config["QZBG"].keyring_path, kek_id)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record_command("keys.retire", now=dt.datetime.now(dt.UTC), target_type="kek", target_id=kek_id)
    click.echo(f"retired {kek_id}")


@keys_cli.command("status")
def key_status() -> None:
    """Each key-encryption key, and how many data keys still need it."""
    vault = get_vault()
    click.echo(f"cipher: {vault.field_cipher}; blind index: {vault.blind_index_algorithm}")
    for row in service.status(vault):
        marks = ["current" if row.current else "", "retired" if row.retired else ""]
        need = "nothing needs it" if row.data_keys == 0 else f"{row.data_keys} data keys need it"
        click.echo(f"{row.id}  {' '.join(m for m in marks if m) or 'old':8}  created {row.created_at}  {need}")
