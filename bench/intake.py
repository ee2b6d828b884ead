"""Report intake under gunicorn, one backend at a time: POST /api/v1/reports and GET /healthz."""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import notify_latency
from bench.common import PG_ENV
from bench.instance import (
    CEILING_APP,
    BenchApp,
    Database,
    free_port,
    gunicorn,
    instance_env,
    make_instance,
    migrate,
    postgres_database,
    server_log_problems,
)
from bench.load import ScenarioResult, drive, health_scenario, report_scenario


@dataclass
class BackendResult:
    name: str
    description: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ceiling: ScenarioResult | None = None
    figures: dict[str, float] = field(default_factory=dict)
    on_duty: int = 0
    enqueue: tuple[ScenarioResult, ScenarioResult] | None = None  # (nobody to notify, ``on_duty`` on duty)
    urgent: notify_latency.UrgentFigure | None = None


def run_backend(name: str, root: Path, args: argparse.Namespace) -> BackendResult:
    directory = root / name
    make_instance(directory)
    with contextlib.ExitStack() as stack:
        if name == "sqlite":
            database = Database(
                f"sqlite:///{directory / 'qzbg.sqlite3'}",
                f"SQLite {sqlite3.sqlite_version} (WAL, write lock at the first write), file under {root}",
            )
        else:
            database = stack.enter_context(postgres_database(os.environ[PG_ENV]))
        port = free_port()
        env = instance_env(directory, database.url, port, args.workers)
        result = BackendResult(name, database.description, on_duty=args.on_duty)
        fake_port = 0
        if args.on_duty:
            # WeCom configured, pointed at the fake: the enqueue and the urgent-latency runs (notify_latency).
            fake_port = free_port()
            env = notify_latency.wecom_env(env, fake_port)
            stack.callback(notify_latency.start_fake(env, fake_port, directory).stop)

        t0 = time.perf_counter()
        migrate(env, directory / "migrate.log")
        bench_app = BenchApp(env)
        tokens = bench_app.create_reporters(args.reporters)
        setup = time.perf_counter() - t0
        server_log = directory / "gunicorn.log"
        created = 0
        unanswered: list[str] = []  # report requests that ended in a client-side exception
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
                    unanswered += warm.unanswered
                    if warm.errors:
                        codes = ", ".join(f"{k}: {v}" for k, v in sorted(warm.statuses.items()))
                        result.notes.append(f"warm-up of {scenario.name}: {warm.errors} errors, statuses {{{codes}}}")
                        result.notes.extend(f"    error sample: {x}" for x in warm.error_samples)
                        # The warm-up's own connections (the first requests of fresh workers) may fail on the
                        # client's side (a reset, a timeout) on a loaded machine: a note, with the request looked
                        # up below. An HTTP error status, a stored-data mismatch or a server log error line
                        # stays a problem.
                        if warm.errors > sum(n for k, n in warm.statuses.items() if not k.isdigit()):
                            result.problems.append(
                                f"warm-up of {scenario.name}: {warm.errors} errors: "
                                f"{'; '.join(warm.error_samples[:2])}"
                            )
                measured = drive(port, scenario, args.seconds, args.concurrency, server.pid, database.server_pids)
                created += measured.created
                unanswered += measured.unanswered
                result.scenarios.append(measured)
                if measured.errors:
                    result.problems.append(f"{scenario.name}: {measured.errors} errors of {measured.requests}: "
                                           f"{'; '.join(measured.error_samples[:2])}")
                if measured.duplicate_tracking_nos:
                    result.problems.append(
                        f"{scenario.name}: {measured.duplicate_tracking_nos} tracking numbers answered twice"
                    )
            if args.on_duty:
                created += run_notify(result, bench_app, env, port, fake_port, tokens, database, directory, args,
                                      unanswered, server.pid)
        # gunicorn has stopped: check what it stored and logged.
        stored = bench_app.stored()
        counted = (stored["reports"], stored["tracking_nos"], stored["events"])
        # A request the client gave up on (a timeout, a reset connection) may have been committed all the same:
        # those are looked up by their client_id and expected in the database beside the 201 answers. The
        # exceptions themselves are errors of their run, reported as such.
        landed = bench_app.stored_client_ids(unanswered)
        expected = created + landed
        # On PostgreSQL a number is taken outside the submitting transaction: a failed submission leaves a gap.
        ok = all(n == expected for n in counted) and stored.get("counter", expected) >= expected
        counter = f", counter at {stored['counter']}" if "counter" in stored else ""
        lost = (f"; {len(unanswered)} requests without an answer (client-side exception), {landed} of them "
                "stored (committed by the server after the client gave up)") if unanswered else ""
        result.notes.append(
            f"stored: {stored['reports']} reports, {stored['tracking_nos']} distinct tracking numbers, "
            f"{stored['events']} events{counter}; 201 answers (with warm-up): {created}{lost}"
            + ("" if ok else "  <-- MISMATCH")
        )
        if not ok:
            result.problems.append(
                f"stored data does not match the 201 answers: {stored}, created={created}, unanswered but stored="
                f"{landed} of {len(unanswered)}"
            )
        count, samples = server_log_problems(server_log)
        result.notes.append(f"server log: {count} error lines" + ("" if not samples else ", e.g.:"))
        result.notes.extend(f"    {s}" for s in samples)
        if count:
            result.problems.append(f"{count} error lines in the server log")
        if not args.no_ceiling:
            run_ceiling(result, bench_app, env, port, directory, tokens, database, args)
    return result


def run_notify(
    result: BackendResult, bench_app: BenchApp, env: dict[str, str], port: int, fake_port: int, tokens: list[str],
    database: Database, directory: Path, args: argparse.Namespace, unanswered: list[str], server_pid: int,
) -> int:
    """The intake scenario again with ``--on-duty`` prosecutors to notify, then urgent reports timed to their
    WeCom messages at the fake (bench/notify_latency.py); returns the reports answered 201."""
    notify_latency.add_on_duty(bench_app, args.on_duty)
    scenario = report_scenario(tokens)
    scenario.name = f"POST ... {args.on_duty} on duty"
    measured = drive(port, scenario, args.seconds, args.concurrency, server_pid, database.server_pids)
    unanswered += measured.unanswered
    result.scenarios.append(measured)
    result.enqueue = (result.scenarios[0], measured)
    if measured.errors:
        result.problems.append(f"{scenario.name}: {measured.errors} errors of {measured.requests}: "
                               f"{'; '.join(measured.error_samples[:2])}")
    result.notes.append(f"enqueue run: {notify_latency.mark_outbox_sent(bench_app)} WeCom messages queued "
                        "(marked sent before the urgent run, never delivered)")
    backlog = args.backlog_reports if name_of(database) == "postgresql" else min(args.backlog_reports, 100_000)
    if backlog:
        result.notes.append(notify_latency.load_backlog(bench_app, backlog, min(args.backlog_due, backlog // 2)))
    urgent = notify_latency.urgent_latency(port, fake_port, tokens, env, directory, args.urgent_rate, args.seconds,
                                           args.on_duty, result.problems,
                                           lambda tracking: notify_latency.outbox_of(bench_app, tracking),
                                           result.notes)
    unanswered += urgent.unanswered
    result.urgent = urgent
    if backlog:
        result.notes.append(f"urgent run beside the backlog's jobs: {notify_latency.jobs_during(bench_app)}")
    count, samples = server_log_problems(directory / "notify-worker-urgent.log")
    if count:
        result.problems.append(f"{count} error lines in the urgent run's notify worker log")
        result.notes.extend(f"    worker log: {s}" for s in samples)
    base = result.scenarios[0]
    figures = urgent.to_json()
    result.figures.update({
        "enqueue_on_duty": args.on_duty,
        "enqueue_p50_ms_none": base.latencies_ms["p50"], "enqueue_p50_ms_on_duty": measured.latencies_ms["p50"],
        "enqueue_app_cpu_ms_none": 1000 * base.server_cpu_s / max(1, base.requests),
        "enqueue_app_cpu_ms_on_duty": 1000 * measured.server_cpu_s / max(1, measured.requests),
        "urgent_to_wecom_p50_ms": figures["p50_ms"], "urgent_to_wecom_p99_ms": figures["p99_ms"],
        "urgent_to_first_wecom_p50_ms": figures["first_p50_ms"],
        "urgent_to_first_wecom_p99_ms": figures["first_p99_ms"],
        "urgent_submitted": urgent.submitted,
    })
    return measured.created + urgent.created


def name_of(database: Database) -> str:
    return "postgresql" if database.url.startswith("postgresql") else "sqlite"


def run_ceiling(
    result: BackendResult, bench_app: BenchApp, env: dict[str, str], port: int, directory: Path,
    tokens: list[str], database: Database, args: argparse.Namespace,
) -> None:
    """The same requests against the minimal-insert app (bench/ceiling.py), same gunicorn settings and database."""
    log = directory / "gunicorn-ceiling.log"
    scenario = report_scenario(tokens)
    scenario.name = "POST ... ceiling app"
    created = unanswered = 0
    with gunicorn({**env, "BENCH_CEILING_DATABASE_URL": database.url}, port, log, CEILING_APP) as server:
        if args.warmup > 0:
            warm = drive(port, scenario, args.warmup, args.concurrency, server.pid, database.server_pids)
            created += warm.created
            unanswered += len(warm.unanswered)
            if warm.errors:
                result.problems.append(f"warm-up of the ceiling app: {warm.errors} errors: {warm.error_samples[:2]}")
        measured = drive(port, scenario, args.seconds, args.concurrency, server.pid, database.server_pids)
        created += measured.created
        unanswered += len(measured.unanswered)
    result.ceiling = measured
    if measured.errors:
        result.problems.append(f"ceiling app: {measured.errors} errors of {measured.requests}")
    rows = bench_app.ceiling_rows()
    if not created <= rows <= created + unanswered:  # a request the client gave up on may have been stored
        result.problems.append(f"ceiling app stored {rows} rows for {created} 201 answers ({unanswered} unanswered)")
    count, samples = server_log_problems(log)
    if count:
        result.problems.append(f"{count} error lines in the ceiling app's server log")
        result.notes.extend(f"    ceiling log: {s}" for s in samples)
    submission = result.scenarios[0]
    lat = submission.latencies_ms
    result.figures.update({
        "submission_req_per_s": submission.rate,
        "ceiling_req_per_s": measured.rate,
        "submission_over_ceiling": submission.rate / measured.rate if measured.rate else float("nan"),
        "submission_p50_ms": lat["p50"], "submission_p95_ms": lat["p95"], "submission_p99_ms": lat["p99"],
        "submission_p99_over_p50": lat["p99"] / lat["p50"] if lat["p50"] else float("nan"),
        "ceiling_p50_ms": measured.latencies_ms["p50"], "ceiling_p99_ms": measured.latencies_ms["p99"],
    })


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
    if result.ceiling is not None:
        s, f = result.ceiling, result.figures
        n = max(1, s.requests)
        db_cpu = "" if s.database_cpu_s is None else f" + db {1000 * s.database_cpu_s / n:.2f}"
        print(
            f"  ceiling app (bench/ceiling.py: parse the same body, insert one row), same gunicorn settings and "
            f"database:\n    {s.requests} requests, {s.errors} errors, {s.rate:.1f} req/s, p50/p95/p99 "
            f"{s.latencies_ms['p50']:.1f}/{s.latencies_ms['p95']:.1f}/{s.latencies_ms['p99']:.1f} ms, "
            f"CPU ms/request: app {1000 * s.server_cpu_s / n:.2f}{db_cpu}"
        )
        print(
            f"  submission / ceiling: {f['submission_req_per_s']:.1f} / {f['ceiling_req_per_s']:.1f} req/s = "
            f"{f['submission_over_ceiling']:.2f}x (target >= 0.5x)"
        )
        print(
            f"  submission latency p50/p95/p99: {f['submission_p50_ms']:.1f}/{f['submission_p95_ms']:.1f}/"
            f"{f['submission_p99_ms']:.1f} ms; p99 = {f['submission_p99_over_p50']:.1f}x p50 (target <= 4x)"
        )
    if result.enqueue is not None or result.urgent is not None:
        base, staffed = result.enqueue or (None, None)
        notify_latency.print_figures(result.name, base, staffed, result.urgent, result.on_duty)
