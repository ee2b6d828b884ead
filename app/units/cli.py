"""``flask units import FILE``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.errors import AppError
from app.extensions import db
from app.units import service

units_cli = AppGroup("units", help="Member units.")


@units_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_units(path: Path) -> None:
    """Create or update member units from a CSV or JSON file (all rows or none)."""
    try:
        created, updated = service.upsert(service.read_rows(path))
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"units: {created} created, {updated} updated")
