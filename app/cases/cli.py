"""``flask cases import FILE [--office CODE]``: a filed-case list, for automation (the office imports on
``/review/cases/import``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cases import service
from app.core.actor import Actor
from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.errors import AppError
from app.offices import queries as offices

cases_cli = AppGroup("cases", help="Filed cases (倒查).")


@cases_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--office", "office_code", default=None, help="The office's code (default: the default office).")
def import_cases(path: Path, office_code: str | None) -> None:
    """Create or update filed cases from an .xlsx or UTF-8 CSV with the header
    case_no,filed_at,category,victim_id_no,victim_name,victim_age,place,units (all rows or none: every bad row is
    listed with its row number)."""
    try:
        with unit_of_work():
            office = offices.by_code(office_code) if office_code else offices.default_office()
            result = service.import_rows(service.read_path(path), office_id=office.id, actor=Actor.system(),
                                         now=dt.datetime.now(dt.UTC), vault=get_vault())
    except service.CasesRejected as exc:
        raise click.ClickException("\n".join([exc.message, *map(service.problem_text, exc.problems)])) from None
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"cases: {result.summary}")
