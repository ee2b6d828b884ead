"""``flask offices add`` and ``flask police-units import``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from flask.cli import AppGroup

from app.audit import service as audit
from app.core.actor import Actor
from app.core.db import unit_of_work
from app.errors import AppError
from app.offices import queries, service

offices_cli = AppGroup("offices", help="Procuratorate offices.")
police_units_cli = AppGroup("police-units", help="Police units reports are transferred to.")


@offices_cli.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--districts", default="", help="Comma-separated district codes, each optionally CODE:名称.")
def add(code: str, name: str, districts: str) -> None:
    """Add an office covering the given districts."""
    codes, names = service.parse_districts(districts)
    try:
        with unit_of_work():
            office = service.add_office(code, name, codes, names)
            audit.record(Actor.system(), "offices.add", now=dt.datetime.now(dt.UTC), target_type="office",
                         target_id=office.code, office_id=office.id)
            click.echo(f"office {office.code} added, {len(codes)} districts")
    except AppError as exc:
        raise click.ClickException(exc.message) from None


@offices_cli.command("list")
def list_offices() -> None:
    """Every office with its districts."""
    from sqlalchemy import select

    from app.extensions import db
    from app.offices.models import Office

    for office in db.session.scalars(select(Office).order_by(Office.id)):
        districts = ",".join(d.code for d in office.districts)
        click.echo(f"{office.code}\t{office.name}\t{'default' if office.is_default else ''}\t{districts}")


@police_units_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_police_units(path: Path) -> None:
    """Create or update police units from a CSV or JSON file; a file with any bad row changes nothing."""
    try:
        rows = service.read_rows(path)
        with unit_of_work():
            created, updated = service.import_police_units(rows, default_office_id=queries.default_office().id)
            audit.record(Actor.system(), "police_units.import", now=dt.datetime.now(dt.UTC),
                         target_type="police_units", target_id=f"{created}+{updated}")
    except (AppError, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        message = exc.message if isinstance(exc, AppError) else f"文件无法读取：{type(exc).__name__}"
        raise click.ClickException(message) from None
    click.echo(f"{created} created, {updated} updated")
