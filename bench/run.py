"""``make bench``: report intake under gunicorn, and what field encryption costs.

For each backend (SQLite always; PostgreSQL when ``QZBG_BENCH_DATABASE_URL`` names
a server) the bench builds a throw-away instance (secret key, keyring, migrated
database, pre-created reporters with bearer tokens), starts gunicorn on a free
127.0.0.1 port, and drives it for a fixed time with C client threads:

- ``POST /api/v1/reports``: a valid report body, a new ``client_id`` each time,
  the token of a random reporter;
- ``GET /healthz``: the floor that the stack (gunicorn, Flask, logging) costs.

Then it checks that the database holds exactly the reports that were answered
201, with distinct tracking numbers, and reports any error lines in the server
log. Last, it times sealing and opening one report's personal fields under
AES-256-GCM and SM4-GCM in this process.

Every temporary directory, the gunicorn process group and the PostgreSQL bench
database are removed at the end, also after an error or Ctrl-C. Only 127.0.0.1
is contacted. The exit status is 0 when every request succeeded and the stored
data checked out, 1 otherwise, 130 on interrupt.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PG_ENV = "QZBG_BENCH_DATABASE_URL"
RELAXED_LIMIT = "1000000 per minute"
REPORTS_PATH = "/api/v1/reports"
HEALTH_PATH = "/healthz"
CLIENT_ID_MARK = b"00000000-0000-4000-8000-00000000c11d"
CLK_TCK = os.sysconf("SC_CLK_TCK")

warnings.filterwarnings("ignore", message="Using the in-memory storage")


class BenchError(RuntimeError):
    """Set-up failed: one line that says what and where to look."""


# -- machine -----------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return None


def _git_revision() -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=ROOT, env=env, timeout=10).returncode
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": _git_revision(),
    }


def print_machine(info: dict[str, Any], args: argparse.Namespace) -> None:
    mem = f", {info['memory_gib']:.1f} GiB RAM" if info["memory_gib"] else ""
    print(f"qzbg benchmark, {info['date']}")
    print(f"machine : nproc {info['nproc']} (of {info['cpu_count']} CPUs), {info['cpu_model']}{mem}, {info['kernel']}")
    print(f"software: {info['python']}, SQLite {info['sqlite']}, commit {info['commit']}")
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    print(f"load avg: {load} at start (other work on this machine skews every figure)")
    print(
        f"run     : {args.seconds:g} s per scenario after {args.warmup:g} s warm-up, {args.concurrency} client threads "
        f"(http.client), gunicorn {args.workers} sync workers, {args.reporters} reporters"
    )
    print(
        "columns : non-2xx answers and connection failures are errors; latency is per request, connect included;\n"
        "          CPU s = this client process / gunicorn master+workers / PostgreSQL backends of the bench\n"
        "          database (SQLite runs inside the app); busy = all CPUs, any process, in the measured window"
    )


# -- CPU accounting ----------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime in ticks) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds used so far by ``root_pid`` and its direct children (gunicorn master and workers)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _proc_stat(pid)
        if stat and (pid == root_pid or stat[0] == root_pid):
            total += stat[1]
    return total / CLK_TCK


def pids_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each of ``pids`` that still exists."""
    out = {}
    for pid in pids:
        stat = _proc_stat(pid)
        if stat:
            out[pid] = stat[1] / CLK_TCK
    return out


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields_ = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)
    return sum(fields_) - idle, sum(fields_)


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- load generation ---------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    build: Callable[[random.Random], tuple[bytes | None, dict[str, str]]]
    created_status: int | None = None  # responses with this status carry a new tracking number


@dataclass
class ThreadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # exceptions: no HTTP status at all
    samples: list[str] = field(default_factory=list)
    tracking_nos: list[str] = field(default_factory=list)
    connects: int = 0
    finished_at: float = 0.0


@dataclass
class ScenarioResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: dict[str, float]
    statuses: dict[str, int]
    error_samples: list[str]
    connects: int
    created: int
    duplicate_tracking_nos: int
    client_cpu_s: float
    server_cpu_s: float
    database_cpu_s: float | None
    machine_busy_pct: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def describe_error(status: int, data: bytes) -> str:
    """``422 validation_error: message {fields}`` from the error envelope (no request id, so samples repeat)."""
    try:
        error = json.loads(data)["error"]
        text = f"{status} {error['code']}: {error['message']}"
        if error.get("fields"):
            text += f" {json.dumps(error['fields'], ensure_ascii=False)}"
    except (ValueError, KeyError, TypeError):
        text = f"{status}: " + " ".join(data[:300].decode("utf-8", "replace").split())
    return text[:300]


def _client(
    port: int, scenario: Scenario, clock: dict[str, float], barrier: threading.Barrier,
    stop: threading.Event, out: ThreadResult,
) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    rng = random.Random()  # noqa: S311 - picks tokens, not secrets
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        return
    deadline = clock["deadline"]
    perf = time.perf_counter
    while not stop.is_set() and perf() < deadline:
        body, headers = scenario.build(rng)
        fresh = conn.sock is None
        started = perf()
        try:
            conn.request(scenario.method, scenario.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            out.failures[type(exc).__name__] += 1
            if len(out.samples) < 5:
                out.samples.append(f"{type(exc).__name__}: {exc}"[:200])
            conn.close()
            continue
        out.latencies.append(perf() - started)
        out.connects += fresh
        status = response.status
        out.statuses[status] += 1
        if not 200 <= status < 300 and len(out.samples) < 5:
            sample = describe_error(status, data)
            if sample not in out.samples:
                out.samples.append(sample)
        elif status == scenario.created_status:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                out.tracking_nos.append(json.loads(data)["tracking_no"])
    conn.close()
    out.finished_at = perf()


def drive(
    port: int, scenario: Scenario, seconds: float, concurrency: int, server_pid: int,
    database_pids: Callable[[], list[int]] | None = None,
) -> ScenarioResult:
    """Run ``scenario`` with ``concurrency`` threads for ``seconds``; in-flight requests finish.

    ``database_pids`` lists the database server processes that serve this bench (PostgreSQL backends).
    """
    clock: dict[str, float] = {}

    def release() -> None:
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(concurrency, action=release)
    stop = threading.Event()
    results = [ThreadResult() for _ in range(concurrency)]
    threads = [
        threading.Thread(target=_client, args=(port, scenario, clock, barrier, stop, r), daemon=True)
        for r in results
    ]
    db0 = pids_cpu(database_pids()) if database_pids else {}
    cpu0, srv0, (busy0, total0) = client_cpu(), process_tree_cpu(server_pid), machine_cpu()
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    finally:
        stop.set()
        barrier.abort()
    cpu1, srv1, (busy1, total1) = client_cpu(), process_tree_cpu(server_pid), machine_cpu()
    # Backends that connected during the run count from zero: they did all their work in it.
    db1 = pids_cpu(database_pids()) if database_pids else {}
    database_cpu = sum(v - db0.get(pid, 0.0) for pid, v in db1.items()) if database_pids else None
    elapsed = max((r.finished_at for r in results), default=0.0) - clock.get("start", 0.0)

    latencies = sorted(x for r in results for x in r.latencies)
    statuses: Counter[str] = Counter()
    for r in results:
        statuses.update({str(k): v for k, v in r.statuses.items()})
        statuses.update(r.failures)
    errors = sum(v for k, v in statuses.items() if not (k.isdigit() and 200 <= int(k) < 300))
    tracking = [t for r in results for t in r.tracking_nos]
    created = sum(r.statuses.get(scenario.created_status or -1, 0) for r in results)
    samples: list[str] = []
    for r in results:
        for s in r.samples:
            if s not in samples and len(samples) < 5:
                samples.append(s)
    ms = [x * 1000 for x in latencies]
    return ScenarioResult(
        name=scenario.name,
        requests=sum(statuses.values()),
        errors=errors,
        seconds=max(elapsed, 1e-9),
        latencies_ms={
            "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "max": ms[-1] if ms else float("nan"),
        },
        statuses=dict(statuses),
        error_samples=samples,
        connects=sum(r.connects for r in results),
        created=created,
        duplicate_tracking_nos=len(tracking) - len(set(tracking)),
        client_cpu_s=cpu1 - cpu0,
        server_cpu_s=srv1 - srv0,
        database_cpu_s=database_cpu,
        machine_busy_pct=100 * (busy1 - busy0) / max(1, total1 - total0),
    )


def report_scenario(tokens: list[str]) -> Scenario:
    from tests.factories import report_body

    body = report_body(client_id=CLIENT_ID_MARK.decode())
    template = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert template.count(CLIENT_ID_MARK) == 1
    before, after = template.split(CLIENT_ID_MARK)
    auth = [f"Bearer {t}" for t in tokens]

    def build(rng: random.Random) -> tuple[bytes, dict[str, str]]:
        payload = before + str(uuid.uuid4()).encode() + after
        return payload, {"Content-Type": "application/json", "Authorization": rng.choice(auth)}

    return Scenario(f"POST {REPORTS_PATH}", "POST", REPORTS_PATH, build, created_status=201)


def health_scenario() -> Scenario:
    return Scenario(f"GET {HEALTH_PATH}", "GET", HEALTH_PATH, lambda rng: (None, {}))


# -- instance, database, server ---------------------------------------------------------------


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

        self.app = create_app(Settings.from_env(env))

    @contextlib.contextmanager
    def context(self) -> Iterator[Any]:
        from app.extensions import db

        with self.app.app_context():
            try:
                yield db
            finally:
                db.session.remove()
                db.engine.dispose()

    def create_reporters(self, count: int) -> list[str]:
        from app.reporters import service as reporters

        now = dt.datetime.now(dt.UTC)
        tokens = []
        with self.context() as db:
            for i in range(count):
                reporter = reporters.find_or_create_by_openid(f"o-bench-{i:04d}", now=now)
                token, _ = reporters.issue_token(reporter, now=now, ttl=dt.timedelta(hours=6))
                tokens.append(token)
            db.session.commit()
        return tokens

    def stored(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from app.reports.models import Report, ReportEvent, TrackingCounter

        with self.context() as db:
            return {
                "reports": db.session.scalar(select(func.count()).select_from(Report)) or 0,
                "tracking_nos": db.session.scalar(select(func.count(func.distinct(Report.tracking_no)))) or 0,
                "events": db.session.scalar(select(func.count()).select_from(ReportEvent)) or 0,
                "counter": db.session.scalar(select(func.max(TrackingCounter.last))) or 0,
            }


def _gunicorn_command() -> list[str]:
    script = Path(sys.executable).with_name("gunicorn")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    return [*head, "--config", "gunicorn.conf.py", "wsgi:app"]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn in its own process group, ready on /healthz; stopped (TERM, then KILL) at the end."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            _gunicorn_command(), cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
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


# -- one backend --------------------------------------------------------------------------------


@dataclass
class BackendResult:
    name: str
    description: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_backend(name: str, root: Path, args: argparse.Namespace) -> BackendResult:
    directory = root / name
    make_instance(directory)
    with contextlib.ExitStack() as stack:
        if name == "sqlite":
            database = Database(
                f"sqlite:///{directory / 'qzbg.sqlite3'}",
                f"SQLite {sqlite3.sqlite_version} (WAL, BEGIN IMMEDIATE), file under {root}",
            )
        else:
            database = stack.enter_context(postgres_database(os.environ[PG_ENV]))
        port = free_port()
        env = instance_env(directory, database.url, port, args.workers)
        result = BackendResult(name, database.description)

        t0 = time.perf_counter()
        migrate(env, directory / "migrate.log")
        bench_app = BenchApp(env)
        tokens = bench_app.create_reporters(args.reporters)
        setup = time.perf_counter() - t0
        server_log = directory / "gunicorn.log"
        created = 0
        t0 = time.perf_counter()
        with gunicorn(env, port, server_log) as server:
            result.notes.append(
                f"set-up: migrate + {args.reporters} reporters {setup:.1f} s, gunicorn ready in "
                f"{time.perf_counter() - t0:.1f} s on port {port}"
            )
            for scenario in (report_scenario(tokens), health_scenario()):
                if args.warmup > 0:
                    warm = drive(port, scenario, args.warmup, args.concurrency, server.pid, database.server_pids)
                    created += warm.created
                    if warm.errors:
                        codes = ", ".join(f"{k}: {v}" for k, v in sorted(warm.statuses.items()))
                        result.notes.append(f"warm-up of {scenario.name}: {warm.errors} errors, statuses {{{codes}}}")
                        result.notes.extend(f"    error sample: {x}" for x in warm.error_samples)
                        result.problems.append(f"warm-up of {scenario.name}: {warm.errors} errors")
                measured = drive(port, scenario, args.seconds, args.concurrency, server.pid, database.server_pids)
                created += measured.created
                result.scenarios.append(measured)
                if measured.errors:
                    result.problems.append(f"{scenario.name}: {measured.errors} errors of {measured.requests}")
                if measured.duplicate_tracking_nos:
                    result.problems.append(
                        f"{scenario.name}: {measured.duplicate_tracking_nos} tracking numbers answered twice"
                    )
        # gunicorn has stopped: check what it stored and logged.
        stored = bench_app.stored()
        ok = stored["reports"] == stored["tracking_nos"] == stored["events"] == created == stored["counter"]
        result.notes.append(
            f"stored: {stored['reports']} reports, {stored['tracking_nos']} distinct tracking numbers, "
            f"{stored['events']} events, counter at {stored['counter']}; 201 answers (with warm-up): {created}"
            + ("" if ok else "  <-- MISMATCH")
        )
        if not ok:
            result.problems.append(f"stored data does not match the 201 answers: {stored}, created={created}")
        count, samples = server_log_problems(server_log)
        result.notes.append(f"server log: {count} error lines" + ("" if not samples else ", e.g.:"))
        result.notes.extend(f"    {s}" for s in samples)
        if count:
            result.problems.append(f"{count} error lines in the server log")
    return result


def print_backend(result: BackendResult) -> None:
    print()
    print(f"== {result.name}: {result.description} ==")
    header = (
        f"{'scenario':<24} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}  {'CPU s client/app/db':<19} {'busy':>4}"
    )
    print(header)
    print("-" * len(header))
    for s in result.scenarios:
        lat = s.latencies_ms
        db_cpu = "-" if s.database_cpu_s is None else f"{s.database_cpu_s:.1f}"
        cpu = f"{s.client_cpu_s:.1f} / {s.server_cpu_s:.1f} / {db_cpu}"
        print(
            f"{s.name:<24} {s.requests:>8} {s.errors:>6} {s.rate:>8.1f} {lat['p50']:>8.1f} {lat['p95']:>8.1f} "
            f"{lat['p99']:>8.1f} {lat['max']:>8.1f}  {cpu:<19} {s.machine_busy_pct:>3.0f}%"
        )
    for s in result.scenarios:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(s.statuses.items()))
        n = max(1, s.requests)
        per_req = f"app {1000 * s.server_cpu_s / n:.2f}"
        if s.database_cpu_s is not None:
            per_req += f" + db {1000 * s.database_cpu_s / n:.2f}"
        print(
            f"  {s.name}: statuses {{{codes}}}; {s.connects} TCP connections; "
            f"CPU ms/request: {per_req}"
        )
        for sample in s.error_samples:
            print(f"    error sample: {sample}")
    for note in result.notes:
        print(f"  {note}")


# -- field encryption ---------------------------------------------------------------------------


def bench_crypto(iterations: int) -> dict[str, Any]:
    """Per report: a new data key wrapped under the KEK plus the five sealed sections (as Report.seal
    does), and opening them again from a freshly loaded (not yet unwrapped) data key."""
    from app.config import BLIND_INDEXES, FIELD_CIPHERS
    from app.crypto import keyfile as keyring_file
    from app.crypto.vault import Vault
    from app.reports.models import SEALED_SECTIONS
    from tests.factories import report_body

    ring = keyring_file.generate()
    body = report_body()
    sections = [(f"{name}_data", body[name]) for name in SEALED_SECTIONS]
    plain = sum(len(json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode()) for _, v in sections)
    out: dict[str, Any] = {"iterations": iterations, "plaintext_bytes": plain, "ciphers": {}, "blind_index": {}}
    perf = time.perf_counter
    for cipher in FIELD_CIPHERS:
        vault = Vault(ring, cipher, "hmac-sha256")
        row_id = uuid.uuid4()

        def seal_report(v: Vault = vault, r: uuid.UUID = row_id) -> tuple[Any, list[bytes]]:
            key = v.new_data_key()
            return key, [v.encrypt(key, "reports", column, r, value) for column, value in sections]

        for _ in range(min(50, iterations)):
            seal_report()
        started = perf()
        for _ in range(iterations):
            key, blobs = seal_report()
        encrypt_us = (perf() - started) / iterations * 1e6

        started = perf()
        for _ in range(iterations):
            vault.new_data_key()
        wrap_us = (perf() - started) / iterations * 1e6

        started = perf()
        for _ in range(iterations):
            key.__dict__.pop("_raw", None)  # as loaded from the database: unwrap first
            for (column, _value), blob in zip(sections, blobs, strict=True):
                vault.decrypt(key, "reports", column, row_id, blob)
        decrypt_us = (perf() - started) / iterations * 1e6
        for (column, value), blob in zip(sections, blobs, strict=True):
            assert vault.decrypt(key, "reports", column, row_id, blob) == value
        out["ciphers"][cipher] = {
            "encrypt_us": encrypt_us, "wrap_us": wrap_us, "decrypt_us": decrypt_us,
            "sealed_bytes": sum(len(b) for b in blobs) + len(key.wrapped or b""),
        }
    for algorithm in BLIND_INDEXES:
        vault = Vault(ring, "aes-256-gcm", algorithm)
        started = perf()
        for _ in range(iterations):
            vault.blind_index("phone", "13800000000")
        out["blind_index"][algorithm] = (perf() - started) / iterations * 1e6
    return out


def print_crypto(result: dict[str, Any]) -> None:
    print()
    print(
        f"== field encryption, one report: new data key wrapped under the KEK + 5 sealed sections "
        f"({result['plaintext_bytes']} bytes of JSON), {result['iterations']} iterations, this process =="
    )
    header = f"{'cipher':<12} {'encrypt µs':>11} {'of which wrap':>14} {'decrypt µs':>11} {'stored bytes':>13}"
    print(header)
    print("-" * len(header))
    for cipher, r in result["ciphers"].items():
        print(
            f"{cipher:<12} {r['encrypt_us']:>11.1f} {r['wrap_us']:>14.1f} {r['decrypt_us']:>11.1f} "
            f"{r['sealed_bytes']:>13}"
        )
    print("  decrypt = unwrap the data key + open the 5 sections; stored bytes = 5 ciphertexts + wrapped key")
    blind = ", ".join(f"{k} {v:.1f} µs" for k, v in result["blind_index"].items())
    print(f"  blind index of one value (a report computes 1-2): {blind}")


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per scenario (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up per scenario (default 1)")
    parser.add_argument("--concurrency", "-c", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--reporters", type=int, default=50, help="reporters with tokens (default 50)")
    parser.add_argument("--crypto-iterations", type=int, default=2000, help="reports sealed per cipher (default 2000)")
    parser.add_argument(
        "--backends", default=None,
        help=f"comma-separated: sqlite,postgresql (default: sqlite, plus postgresql when {PG_ENV} is set)",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn runs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary instances (server logs, SQLite files) for inspection"
    )
    parser.add_argument("--no-crypto", action="store_true", help="skip the encryption timings")
    parser.add_argument(
        "--json", type=Path, default=None,
        help="also write the figures as JSON here (default bench/results/<time>.json; '-' for none)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.concurrency < 1 or args.workers < 1 or args.reporters < 1:
        parser.error("--seconds, --concurrency, --workers and --reporters must be positive")
    if args.backends is None:
        args.backends = ["sqlite", *(["postgresql"] if os.environ.get(PG_ENV) else [])]
    else:
        args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = set(args.backends) - {"sqlite", "postgresql"}
        if unknown:
            parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
        if "postgresql" in args.backends and not os.environ.get(PG_ENV):
            parser.error(f"postgresql needs {PG_ENV}")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _to_json(info: dict[str, Any], args: argparse.Namespace, backends: list[BackendResult],
             crypto: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "backends": [
            {
                "name": b.name, "description": b.description, "notes": b.notes, "problems": b.problems,
                "scenarios": [{**vars(s), "req_per_s": s.rate} for s in b.scenarios],
            }
            for b in backends
        ],
        "crypto": crypto,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    os.chdir(ROOT)
    info = machine_info()
    print_machine(info, args)
    sys.stdout.flush()
    backends: list[BackendResult] = []
    crypto = None
    failed = False
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="qzbg-bench-"))
    try:
        if not args.no_http:
            for name in args.backends:
                try:
                    result = run_backend(name, root, args)
                except BenchError as exc:
                    print(f"\n== {name}: FAILED ==\n{exc}")
                    failed = True
                    continue
                backends.append(result)
                print_backend(result)
                sys.stdout.flush()
        if not args.no_crypto:
            crypto = bench_crypto(args.crypto_iterations)
            print_crypto(crypto)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping gunicorn and removing the temporary instance", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept the instances (logs, SQLite files) in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    problems = [f"{b.name}: {p}" for b in backends for p in b.problems]
    print()
    print(f"total time {time.perf_counter() - started:.0f} s; load avg now "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for p in problems:
        print(f"PROBLEM {p}")
    if args.json is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        args.json = ROOT / "bench" / "results" / f"{stamp}.json"
    if str(args.json) != "-":
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_to_json(info, args, backends, crypto), indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
