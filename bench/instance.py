"""A throw-away instance: secret key, keyring, database (SQLite file or a fresh PostgreSQL database), gunicorn."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import HEALTH_PATH, HOST, PG_ENV, RELAXED_LIMIT, ROOT, BenchError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """This process's environment without any QZBG_* or gunicorn settings of the caller."""
    return {
        k: v for k, v in os.environ.items()
        if not k.startswith("QZBG_") and k not in ("GUNICORN_CMD_ARGS", "FLASK_APP")
    }


def make_instance(directory: Path) -> None:
    from app.crypto import keyfile as keyring_file

    directory.mkdir(parents=True, mode=0o700)
    secret = directory / "secret_key"
    secret.write_text(secrets.token_urlsafe(48) + "\n")
    secret.chmod(0o600)
    keyring_file.save(keyring_file.generate(), directory / "keyring.json")
    (directory / "attachments").mkdir(mode=0o700)


def instance_env(directory: Path, database_url: str, port: int, workers: int) -> dict[str, str]:
    return {
        **base_env(),
        "QZBG_INSTANCE_PATH": str(directory),
        "QZBG_DATABASE_URL": database_url,
        "QZBG_KEYRING": str(directory / "keyring.json"),
        "QZBG_ATTACHMENTS_DIR": str(directory / "attachments"),
        "QZBG_INTAKE_RATE_LIMIT": RELAXED_LIMIT,
        "QZBG_INTAKE_IP_RATE_LIMIT": RELAXED_LIMIT,
        "QZBG_LOOKUP_RATE_LIMIT": RELAXED_LIMIT,
        "QZBG_BIND": f"{HOST}:{port}",
        "QZBG_WORKERS": str(workers),
    }


def migrate(env: dict[str, str], log: Path) -> None:
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    with log.open("wb") as fh:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=180)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise BenchError(f"flask db upgrade failed (exit {done.returncode}):\n{tail}")


@dataclass
class Database:
    url: str
    description: str
    server_pids: Callable[[], list[int]] | None = None


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[Database]:
    """A fresh database on the server of ``server_url``, dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if not url.drivername.startswith("postgresql"):
        raise BenchError(f"{PG_ENV} must be a postgresql:// URL")
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"qzbg_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(f"cannot create a database through {PG_ENV}: {type(exc).__name__}: {exc}") from None
    monitor = None
    try:
        monitor = psycopg.connect(admin, autocommit=True, connect_timeout=10)

        def server_pids() -> list[int]:
            """Backends connected to the bench database (local server only: their CPU is read from /proc)."""
            rows = monitor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
            return [int(r[0]) for r in rows]

        local = url.host in (None, "", "localhost", "127.0.0.1", "::1")
        yield Database(
            url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False),
            f"PostgreSQL {version}, fresh database {name}",
            server_pids if local else None,
        )
    finally:
        if monitor is not None:
            monitor.close()
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class BenchApp:
    """The app in this process, on the bench instance: seeds reporters and checks what was stored."""

    def __init__(self, env: dict[str, str]) -> None:
        from app import create_app
        from app.config import Settings

        settings = Settings.from_env(env)
        self.app = create_app(settings)
        # The app's JSON log lines (the worker logs each delivery) go to a file, not over the figures.
        self.log = settings.instance_path / "bench-app.log"
        import logging

        stream = self.log.open("a", encoding="utf-8")
        for handler in {*logging.getLogger("qzbg").handlers, *self.app.logger.handlers}:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)

    @contextlib.contextmanager
    def context(self) -> Iterator[Any]:
        from app.extensions import db

        with self.app.app_context():
            try:
                yield db
            finally:
                db.session.remove()
                db.engine.dispose()

    def create_reporters(self, count: int, prefix: str = "o-bench-") -> list[str]:
        return [token for _id, token in self.reporters(count, prefix)]

    def reporters(self, count: int, prefix: str) -> list[tuple[Any, str]]:
        """``count`` reporter accounts (openid ``<prefix><i>``), each with a bearer token: (id, token)."""
        from app.crypto.vault import get_vault
        from app.reporters import service as reporters

        now = dt.datetime.now(dt.UTC)
        out = []
        with self.context() as db:
            vault = get_vault()
            for i in range(count):
                reporter = reporters.find_or_create_by_openid(f"{prefix}{i:04d}", now=now, vault=vault)
                token, _ = reporters.issue_token(reporter, now=now, ttl=dt.timedelta(hours=6))
                out.append((reporter.id, token))
            db.session.commit()
        return out

    def submit(self, token: str, count: int = 1) -> list[Any]:
        """``count`` valid reports through the JSON API in this process (the project's own code): their ids."""
        import uuid

        from tests.factories import report_body

        client = self.app.test_client()
        ids = []
        for _ in range(count):
            response = client.post(
                "/api/v1/reports", json=report_body(),
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code != 201:
                raise BenchError(f"a set-up report was refused: {response.status_code} {response.get_data()[:300]!r}")
            ids.append(uuid.UUID(response.get_json()["id"]))
        return ids

    def stored(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from app.reports import models

        counter = getattr(models, "TrackingCounter", None)  # None once numbers come from a sequence
        submitted = ~models.Report.client_key.startswith("backlog:")  # not bench/notify_latency.py's backlog
        with self.context() as db:
            stored = {
                "reports": db.session.scalar(select(func.count()).select_from(models.Report).where(submitted)) or 0,
                "tracking_nos": db.session.scalar(select(func.count(func.distinct(models.Report.tracking_no)))
                                                  .where(submitted)) or 0,
                "events": db.session.scalar(select(func.count()).select_from(models.ReportEvent)) or 0,
            }
            if counter is not None:
                stored["counter"] = db.session.scalar(select(func.max(counter.last))) or 0
            return stored

    def stored_client_ids(self, client_ids: list[str]) -> int:
        """How many of the reports with these ``client_id``s were stored (of any reporter)."""
        from sqlalchemy import func, or_, select

        from app.reports.models import Report

        if not client_ids:
            return 0
        with self.context() as db:
            wanted = or_(*(Report.client_key.endswith(f":{cid}") for cid in client_ids[:200]))
            return int(db.session.scalar(select(func.count()).select_from(Report).where(wanted)) or 0)

    def ceiling_rows(self) -> int:
        """Rows the ceiling app inserted into its own table."""
        from sqlalchemy import text

        from bench.common import CEILING_TABLE as TABLE

        with self.context() as db:
            query = text(f"SELECT count(*) FROM {TABLE}")  # noqa: S608 - a constant
            return int(db.session.scalar(query) or 0)


PROJECT_APP = ("gunicorn.conf.py", "wsgi:app")
CEILING_APP = ("bench/gunicorn_ceiling.py", "bench.ceiling:app")


def _gunicorn_command(config: str, wsgi_app: str) -> list[str]:
    script = Path(sys.executable).with_name("gunicorn")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    return [*head, "--config", config, wsgi_app]


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], port: int, log: Path, served: tuple[str, str] = PROJECT_APP
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn in its own process group, ready on /healthz; stopped (TERM, then KILL) at the end.

    ``served`` is (config file, WSGI app): the project (default) or the ceiling app.
    """
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            _gunicorn_command(*served), cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(proc, port, log, timeout=60)
        yield proc
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    # Workers orphaned by a crashed master are still in the group we created.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise BenchError(f"gunicorn exited with {proc.returncode} before answering:\n{tail}")
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", HEALTH_PATH)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise BenchError(f"gunicorn did not answer {HEALTH_PATH} on port {port} within {timeout:g} s")


def _short_frame(frame: str) -> str:
    return frame.split("site-packages/")[-1].replace(str(ROOT) + "/", "")


def server_log_problems(log: Path) -> tuple[int, list[str]]:
    """Errors in the server log: count and a few distinct samples.

    Counted: the app's JSON lines at level error/critical (they name the exception type and frames,
    never messages), gunicorn's [ERROR]/[CRITICAL] lines and Flask's own "ERROR in app" lines.
    """
    count = 0
    samples: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        sample = None
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") not in ("error", "critical"):
                continue
            frames = entry.get("frames") or []
            where = f" at {_short_frame(frames[-1])}" if frames else ""
            sample = f"{entry.get('logger')}: {entry.get('event')} {entry.get('exception', '')}{where}"
        elif "] [ERROR] " in line or "] [CRITICAL] " in line or "] ERROR in " in line:
            sample = line.split("] ", 1)[-1] if "] ERROR in " in line else line[line.index("] [") + 2 :]
        if sample is None:
            continue
        count += 1
        if len(samples) < 6 and sample[:240] not in samples:
            samples.append(sample[:240])
    return count, samples
