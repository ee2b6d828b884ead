"""Shared helpers for the field-encryption tests: real API calls and raw cell edits."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.config import Settings
from app.crypto.keyfile import Keyring, generate
from app.crypto.vault import Vault
from app.extensions import db
from app.reports.models import Report
from tests.conftest import build_app
from tests.factories import report_body

PROJECT = Path(__file__).resolve().parents[2]


def submit_report(client: FlaskClient, login: Any, /, **sections: Any) -> uuid.UUID:
    """POST a valid report through the JSON API as ``login``; its id."""
    response = client.post("/api/v1/reports", json=report_body(**sections), headers=login.headers)
    assert response.status_code == 201, response.json
    return uuid.UUID(response.json["id"])


def read_cell(table: str, column: str, row_id: Any) -> Any:
    """One stored value, straight from the table (no ORM, no decryption)."""
    t = db.metadata.tables[table]
    value = db.session.execute(select(t.c[column]).where(t.c.id == row_id)).scalar_one()
    db.session.commit()
    return value


def write_cell(table: str, column: str, row_id: Any, value: Any) -> None:
    """Overwrite one stored value behind the ORM's back, then start a fresh session."""
    t = db.metadata.tables[table]
    result = db.session.execute(update(t).where(t.c.id == row_id).values({column: value}))
    assert result.rowcount == 1
    db.session.commit()
    db.session.remove()


def flip_byte(blob: bytes, index: int) -> bytes:
    data = bytearray(blob)
    data[index] ^= 0x01
    return bytes(data)


def fresh_report(report_id: uuid.UUID) -> Report:
    """The report loaded in a new session: no cached rows, no cached raw data keys."""
    db.session.remove()
    report = db.session.get(Report, report_id)
    assert report is not None
    return report


@contextlib.contextmanager
def second_app(settings: Settings) -> Iterator[Flask]:
    """Another app on the same database; its connections are closed on exit."""
    application = build_app(settings)
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def vault_for(keyring: Keyring | None = None, cipher: str = "aes-256-gcm", blind: str = "hmac-sha256") -> Vault:
    return Vault(keyring or generate(), cipher, blind)


def flask_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``flask --app wsgi ARGS`` (this interpreter's) in the project directory, with only the given QZBG_* variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QZBG_", "FLASK_"))}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT, env={**base, **env}, capture_output=True, text=True, timeout=timeout, check=False,
    )

