"""The minimal-insert ceiling: what a submission could cost at best on this stack.

A tiny Flask + Flask-SQLAlchemy app, nothing of the project's code: ``POST
/api/v1/reports`` parses the same JSON body and inserts one row (the client id and
the body as text) into its own table ``bench_ceiling``, then answers 201. No
validation, no encryption, no tracking number, no timeline, no token look-up.
The bench serves it with the project's gunicorn settings (``bench/gunicorn_ceiling.py``)
on the same database and drives it with the same requests as the real endpoint, so
``submission req/s / ceiling req/s`` says how much of the stack's budget the app uses.

Run by gunicorn as ``bench.ceiling:app``; the database is ``BENCH_CEILING_DATABASE_URL`` (a variable of its own,
so importing this module elsewhere never touches a database named by the usual ``QZBG_DATABASE_URL``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from typing import Any

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, String, Text, Uuid, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.common import CEILING_TABLE as TABLE


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class CeilingRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = TABLE

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _sqlite_pragmas(engine: Any) -> None:
    """What any SQLite app under concurrent writers needs: WAL and a busy timeout (not the app's BEGIN IMMEDIATE)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def create_app(database_url: str) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        if database_url.startswith("sqlite"):
            _sqlite_pragmas(db.engine)
        db.create_all()
        db.engine.dispose()

    @app.post("/api/v1/reports")
    def create_report() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("client_id"), str):
            return {"error": {"code": "bad_request"}}, 400
        row_id = uuid.uuid4()
        db.session.add(
            CeilingRow(
                id=row_id, client_id=data["client_id"][:64], body=json.dumps(data, ensure_ascii=False),
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        db.session.commit()
        return {"id": str(row_id)}, 201

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    return app


URL_ENV = "BENCH_CEILING_DATABASE_URL"
app = create_app(os.environ[URL_ENV]) if os.environ.get(URL_ENV) else None
