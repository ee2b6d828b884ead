"""``flask audit verify [--head SEQ:HASH]``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.audit import service

audit_cli = AppGroup("audit", help="The keyed, hash-chained audit log.")


def _head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> service.Head | None:
    if value is None:
        return None
    try:
        return service.Head.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit_cli.command("verify")
@click.option("--head", "recorded", callback=_head, metavar="SEQ:HASH",
              help="A chain head recorded earlier (the audit.chain_head log line): it must still be on the chain.")
def verify(recorded: service.Head | None) -> None:
    """Check the whole chain under the keyring's audit key; exit 1 naming the first bad entry."""
    verdict = service.verify(recorded=recorded)
    if verdict.ok:
        against = f"; the recorded head {recorded.seq} is on it" if recorded else ""
        click.echo(f"audit chain ok: {verdict.checked} entries, head {service.chain_head()}{against}")
        return
    click.echo(f"audit chain broken at entry {verdict.bad_seq}: {verdict.reason} "
               f"({verdict.checked} entries before it are whole)", err=True)
    sys.exit(1)
