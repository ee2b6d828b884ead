"""``flask audit verify``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.audit import service

audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def verify() -> None:
    """Check the whole chain; exit 1 naming the first bad entry."""
    verdict = service.verify()
    if verdict.ok:
        seq, digest = service.chain_head()
        click.echo(f"audit chain ok: {verdict.checked} entries, head {seq} {digest}")
        return
    click.echo(f"audit chain broken at entry {verdict.bad_seq}: {verdict.reason} "
               f"({verdict.checked} entries before it are whole)", err=True)
    sys.exit(1)
