"""What notifying staff adds to a submission, and how soon an urgent one reaches WeCom (run by bench/intake.py).

The gunicorn instance of the intake run has WeCom configured, pointed at the fake WeChat/WeCom
(``flask wechat fake-server``, a process of its own). The intake scenario runs first with no staff at all
(nobody to notify); then ``--on-duty`` prosecutors with WeCom ids are added (no roster: all of them on duty)
and the same scenario runs again, each submission now queueing one WeCom message per prosecutor in its own
transaction. The difference of the two runs (p50, CPU ms per request of gunicorn and of PostgreSQL's backends)
is what enqueueing adds. The second run comes after the first, on a table that has grown by the first's rows.

Then the messages of that run are marked sent (so that the worker starts on an empty outbox), a real
``flask notify worker`` process is started, and urgent reports are submitted through gunicorn at
``--urgent-rate`` a second for ``--seconds``, one client thread, on a fixed schedule. Each is timed from the
start of its POST until the fake has accepted the WeCom message of every prosecutor on duty (the fake stamps
each message as it accepts it; the same host's clock); the first of them is printed too.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import HOST, REPORTS_PATH, ROOT, BenchError
from bench.instance import BenchApp, stop_process_group
from bench.notify_worker import FakeProcess, _call

CORPID = "ww-bench-corp"
SECRET = "bench-wecom-secret"  # noqa: S105 - the fake's
AGENTID = "1000002"
TARGET_P99_MS = 2000.0
WAIT_AFTER = 30.0  # seconds to wait, after the last submission, for messages still on their way


def wecom_env(env: dict[str, str], port: int) -> dict[str, str]:
    return {**env, "QZBG_WECOM_CORPID": CORPID, "QZBG_WECOM_SECRET": SECRET, "QZBG_WECOM_AGENTID": AGENTID,
            "QZBG_WECOM_API_BASE": f"http://{HOST}:{port}"}


def start_fake(env: dict[str, str], port: int, directory: Path) -> FakeProcess:
    return FakeProcess(env, port, directory / "fake-wecom.log")


def add_on_duty(bench_app: BenchApp, count: int) -> None:
    """``count`` prosecutors of the default office, each with a WeCom id (no roster: all on duty)."""
    from tests.factories import create_staff

    with bench_app.context() as db:
        for i in range(count):
            user = create_staff(f"bench-duty-{i:02d}", role="prosecutor")
            user.wecom_userid = f"BenchDuty{i:02d}"
        db.session.commit()


def mark_outbox_sent(bench_app: BenchApp) -> int:
    """The messages the enqueue run queued, out of the way (nobody delivered them): the latency run's worker
    starts on an empty outbox."""
    from sqlalchemy import update

    from app.notify.models import OutboxMessage

    with bench_app.context() as db:
        done = db.session.execute(update(OutboxMessage).where(OutboxMessage.state == "pending")
                                  .values(state="sent").execution_options(synchronize_session=False))
        db.session.commit()
        return int(done.rowcount or 0)  # type: ignore[attr-defined]


def outbox_of(bench_app: BenchApp, tracking_no: str) -> str:
    """The outbox rows of one report, for a failure's message: channel, kind, state, attempts, last error."""
    from sqlalchemy import select

    from app.notify.models import OutboxMessage
    from app.reports.models import Report

    with bench_app.context() as db:
        rows = db.session.execute(
            select(OutboxMessage.channel, OutboxMessage.kind, OutboxMessage.state, OutboxMessage.attempts,
                   OutboxMessage.last_error, OutboxMessage.next_attempt_at)
            .join(Report, Report.id == OutboxMessage.report_id).where(Report.tracking_no == tracking_no)
        ).all()
        pending = db.session.execute(
            select(OutboxMessage.channel, OutboxMessage.state).where(OutboxMessage.state != "sent")
        ).all()
    return f"{[tuple(map(str, r)) for r in rows]}; not sent in all: {len(pending)} {pending[:5]}"


# The first urgent report waits for the worker to start; past SLOW_START the run notes why. FIRST_WAIT covers a
# first send that failed and was retried (QZBG_NOTIFY_RETRY_SECONDS: 30 s, then 60 s, each +-20%).
SLOW_START, FIRST_WAIT = 10.0, 120.0


@dataclasses.dataclass
class UrgentFigure:
    rate: float
    seconds: float
    on_duty: int
    submitted: int = 0
    all_ms: list[float] = dataclasses.field(default_factory=list)  # until every prosecutor on duty has it
    first_ms: list[float] = dataclasses.field(default_factory=list)  # until the first of them has it
    missing: int = 0
    created: int = 0
    unanswered: list[str] = dataclasses.field(default_factory=list)

    @staticmethod
    def q(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "seconds": self.seconds, "on_duty": self.on_duty, "submitted": self.submitted,
                "missing": self.missing, "p50_ms": self.q(self.all_ms, 0.5), "p99_ms": self.q(self.all_ms, 0.99),
                "first_p50_ms": self.q(self.first_ms, 0.5), "first_p99_ms": self.q(self.first_ms, 0.99),
                "target_p99_ms": TARGET_P99_MS}


def _submit(conn: http.client.HTTPConnection, token: str, client_id: str) -> str:
    """One urgent report through gunicorn: its tracking number."""
    from tests.factories import report_body

    body = json.dumps(report_body(urgent=True, client_id=client_id), ensure_ascii=False).encode()
    conn.request("POST", REPORTS_PATH, body=body,
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 201:
        raise BenchError(f"an urgent report was refused: {response.status} {data[:200]!r}")
    return str(json.loads(data)["tracking_no"])


def _arrivals(fake_port: int) -> dict[str, list[float]]:
    """Tracking number -> when each of its WeCom messages was accepted by the fake (epoch seconds)."""
    out: dict[str, list[float]] = {}
    for message in _call(fake_port, "POST", "/__fake__/wecom-sent", body={})["sent"]:
        out.setdefault(str(message["title"]).rsplit(" ", 1)[-1], []).append(float(message["at"]))
    return out


def urgent_latency(
    port: int, fake_port: int, tokens: list[str], env: dict[str, str], directory: Path, rate: float,
    seconds: float, on_duty: int, problems: list[str], outbox_state: Callable[[str], str] = lambda _: "?",
    notes: list[str] | None = None,
) -> UrgentFigure:
    notes = [] if notes is None else notes
    figure = UrgentFigure(rate, seconds, on_duty)
    log = directory / "notify-worker-urgent.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notify", "worker"], cwd=ROOT,
                                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    started: dict[str, float] = {}
    try:
        def wait_for(tracking: list[str], limit: float) -> dict[str, list[float]]:
            deadline = time.monotonic() + limit
            while True:
                seen = _arrivals(fake_port)
                if all(len(seen.get(t, [])) >= on_duty for t in tracking) or time.monotonic() > deadline:
                    return seen
                if proc.poll() is not None:
                    raise BenchError(f"the notify worker exited with {proc.returncode}: {log.read_text()[-800:]}")
                time.sleep(0.05)

        # The first report waits for the worker to start (imports, app, first heartbeat): not a sample.
        try:
            first = _submit(conn, tokens[0], str(uuid.uuid4()))
        except (OSError, http.client.HTTPException) as exc:
            server = directory / "gunicorn.log"
            raise BenchError(
                f"the first urgent report was not answered: {type(exc).__name__} {exc}; gunicorn log: "
                f"{server.read_text(errors='replace')[-1500:] if server.exists() else '(none)'}; worker log: "
                f"{log.read_text(errors='replace')[-1500:]}"
            ) from exc
        figure.created += 1
        waited = time.monotonic()
        arrived = len(wait_for([first], FIRST_WAIT).get(first, []))
        waited = time.monotonic() - waited
        if arrived >= on_duty and waited > SLOW_START:
            # Not a sample, so not a problem: but say why (a send retried after QZBG_NOTIFY_RETRY_SECONDS, say).
            notes.append(f"urgent latency: the first urgent report's messages took {waited:.0f} s (worker start "
                         f"included); outbox: {outbox_state(first)}; worker log: "
                         f"{log.read_text(errors='replace')[-1200:]}")
        if arrived < on_duty:
            raise BenchError(f"the notify worker delivered {len(_arrivals(fake_port).get(first, []))} of {on_duty} "
                             f"urgent messages within {FIRST_WAIT:.0f} s of its start; outbox: {outbox_state(first)}; "
                             f"worker log: {log.read_text(errors='replace')[-1500:]}")
        # gunicorn closes a keep-alive connection idle past its keepalive (2 s) while the worker starts: the
        # timed submissions start on a fresh one (a request written to a closed socket is a BrokenPipeError).
        conn.close()
        t0 = time.monotonic()
        n = 0
        while time.monotonic() < t0 + seconds:
            time.sleep(max(0.0, t0 + n / rate - time.monotonic()))
            at, client_id = time.time(), str(uuid.uuid4())
            try:
                tracking = _submit(conn, tokens[n % len(tokens)], client_id)
            except (OSError, http.client.HTTPException) as exc:
                figure.unanswered.append(client_id)
                problems.append(f"urgent latency: a submission failed: {type(exc).__name__}")
                conn.close()
                n += 1
                continue
            figure.created += 1
            started[tracking] = at
            n += 1
        figure.submitted = len(started)
        seen = wait_for(list(started), WAIT_AFTER)
        for tracking, at in started.items():
            arrivals = sorted(seen.get(tracking, []))
            if len(arrivals) < on_duty:
                figure.missing += 1
                continue
            if len(arrivals) > on_duty:
                problems.append(f"urgent latency: {tracking} reached the fake {len(arrivals)} times for "
                                f"{on_duty} prosecutors")
            figure.first_ms.append(max(0.0, arrivals[0] - at) * 1000)
            figure.all_ms.append(max(0.0, arrivals[on_duty - 1] - at) * 1000)
    finally:
        conn.close()
        stop_process_group(proc)
    if figure.missing:
        problems.append(f"urgent latency: {figure.missing} of {figure.submitted} urgent reports did not reach "
                        f"every prosecutor on duty within {WAIT_AFTER:.0f} s")
    if proc.returncode not in (0, None):
        problems.append(f"urgent latency: the notify worker exited with {proc.returncode} on SIGTERM")
    return figure


def print_figures(name: str, base: Any, staffed: Any, urgent: UrgentFigure | None, on_duty: int) -> None:
    if base is not None and staffed is not None:
        def per(s: Any, cpu: float | None) -> float:
            return float("nan") if cpu is None else 1000 * cpu / max(1, s.requests)

        b50, s50 = base.latencies_ms["p50"], staffed.latencies_ms["p50"]
        ba, sa = per(base, base.server_cpu_s), per(staffed, staffed.server_cpu_s)
        db = ""
        if base.database_cpu_s is not None and staffed.database_cpu_s is not None:
            bd, sd = per(base, base.database_cpu_s), per(staffed, staffed.database_cpu_s)
            db = f", db {bd:.2f} -> {sd:.2f} ({sd - bd:+.2f})"
        print(f"  enqueueing for {on_duty} prosecutors on duty (WeCom), against nobody to notify: p50 "
              f"{b50:.1f} -> {s50:.1f} ms ({s50 - b50:+.1f}); CPU ms/request app {ba:.2f} -> {sa:.2f} "
              f"({sa - ba:+.2f}){db}; {base.rate:.1f} -> {staffed.rate:.1f} req/s")
    if urgent is not None:
        print(f"  urgent submission to its WeCom message at the fake ({urgent.rate:g}/s for {urgent.seconds:g} s, "
              f"{urgent.submitted} reports, {urgent.on_duty} on duty, one flask notify worker process): every "
              f"prosecutor p50/p99 {urgent.q(urgent.all_ms, 0.5):.0f}/{urgent.q(urgent.all_ms, 0.99):.0f} ms "
              f"(target p99 < {TARGET_P99_MS:.0f} ms); the first of them p50/p99 "
              f"{urgent.q(urgent.first_ms, 0.5):.0f}/{urgent.q(urgent.first_ms, 0.99):.0f} ms")


BACKLOG_PREFIX = "backlog:"  # the client_key of the backlog's rows (left out of the stored-data check)


def load_backlog(bench_app: BenchApp, total: int, due: int) -> str:
    """A long history with a backlog of overdue deadlines, for the urgent run to go on beside the jobs: ``total``
    reports copied from one of the intake run's (core inserts, ``BACKLOG_PREFIX`` client keys), of which ``due``
    are urgent, unacknowledged and past the escalation period, ``due`` more were transferred and are past the
    police's receipt and feedback deadlines, and the rest are closed, spread over ten years. The jobs' rows are
    deleted, so the worker runs escalation and the overdue reminders over the backlog as it starts. Returns a
    note of what was loaded."""
    import datetime as dt
    import random
    import uuid

    from sqlalchemy import delete, func, insert, select, text

    from app.core.scheduler import JobRun
    from app.offices.models import PoliceUnit
    from app.offices.queries import default_office
    from bench.reporter_list import CHUNK, _generated_columns, _unique_value

    started = time.perf_counter()
    rng = random.Random(23)  # noqa: S311 - spreads rows, not secrets
    with bench_app.context() as db:
        table, transfers = db.metadata.tables["reports"], db.metadata.tables["transfers"]
        template = dict(db.session.execute(select(table).limit(1)).mappings().one())
        police = PoliceUnit(code="bench-backlog", name="积压派出所", office_id=default_office().id)
        db.session.add(police)
        db.session.flush()
        generated = _generated_columns(table)
        now = dt.datetime.now(dt.UTC)
        have = 0
        while have < total:
            rows, moved = [], []
            for n in range(have, min(total, have + CHUNK)):
                if n < due:
                    at = now - dt.timedelta(minutes=rng.uniform(31, 30 * 24 * 60))
                    state = {"status": "new", "urgent": True, "acknowledged_at": None}
                elif n < 2 * due:
                    at = now - dt.timedelta(days=rng.uniform(5, 60))
                    state = {"status": "transferred", "urgent": False, "acknowledged_at": at}
                else:
                    at = now - dt.timedelta(days=rng.uniform(1, 3650))
                    state = {"status": "closed", "urgent": False, "acknowledged_at": at, "closed_at": at,
                             "close_reason": "other"}
                row = {**template, "id": uuid.uuid4(), "submitted_at": at,
                       "updated_at": at, "acknowledge_due_at": at + dt.timedelta(hours=1), "training": False,
                       "assignee_id": None, "closed_at": None, "close_reason": None, **state}
                for column in generated:
                    row[column.name] = _unique_value(column, 2_000_000_000 + n)
                row["client_key"] = f"{BACKLOG_PREFIX}{n}"  # unique too, and how the stored-data check skips it
                rows.append(row)
                if due <= n < 2 * due:
                    sent = at + dt.timedelta(hours=2)
                    moved.append({"id": uuid.uuid4(), "report_id": row["id"], "police_unit_id": police.id,
                                  "office_id": row["office_id"], "report_submitted_at": at, "training": False,
                                  "state": "open", "share_reporter": False, "created_at": sent,
                                  "receipt_due_at": sent + dt.timedelta(hours=24),
                                  "feedback_due_at": sent + dt.timedelta(hours=72)})
            db.session.execute(insert(table), rows)
            if moved:
                db.session.execute(insert(transfers), moved)
            db.session.commit()
            have += len(rows)
        db.session.execute(delete(JobRun))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(table)) or 0
    return (f"backlog: {total:,} reports loaded in {time.perf_counter() - started:.0f} s ({count:,} in the table), "
            f"{due:,} urgent ones unacknowledged past the escalation period and {due:,} open transfers past their "
            "deadlines; the jobs' rows cleared, so escalation and the reminders run over them as the worker starts")


def jobs_during(bench_app: BenchApp, names: tuple[str, ...] = ("escalation", "overdue_reminders")) -> str:
    """When the backlog's jobs last started and finished (the worker's clock), for the urgent run's note."""
    from sqlalchemy import select

    from app.core.scheduler import JobRun

    with bench_app.context() as db:
        rows = {r.name: r for r in db.session.scalars(select(JobRun).where(JobRun.name.in_(names)))}
    parts = []
    for name in names:
        row = rows.get(name)
        if row is None or row.last_started is None:
            parts.append(f"{name} never started")
            continue
        took = (f"{(row.last_finished - row.last_started).total_seconds():.1f} s"
                if row.last_finished else "still running")
        parts.append(f"{name} started {row.last_started:%H:%M:%S} UTC, {took} ({row.last_status or 'running'})")
    return "; ".join(parts)
