"""Per backend, on an instance of its own: the reporter list as the table grows, the notify worker
beside the fake WeChat's own rate, and ``keys rotate`` beside the raw re-wrap rate."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import exports as exports_bench
from bench import notify_worker, reporter_list, review_inbox, rotation
from bench import stats as stats_bench
from bench.common import PG_ENV, BenchError
from bench.instance import (
    BenchApp,
    Database,
    free_port,
    instance_env,
    make_instance,
    migrate,
    postgres_database,
    server_log_problems,
)


@dataclass
class DataResult:
    name: str
    description: str
    listing: list[reporter_list.ListFigure] = field(default_factory=list)
    inbox: list[review_inbox.InboxFigure] = field(default_factory=list)
    stats: list[stats_bench.StatsFigure] = field(default_factory=list)
    stats_plans: list[str] = field(default_factory=list)
    exports: list[exports_bench.ExportFigure] = field(default_factory=list)
    worker: notify_worker.WorkerFigure | None = None
    rotation: list[rotation.RotationFigure] = field(default_factory=list)
    raw_rewrap_per_s: float | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.worker is not None:
            out["worker"] = {**asdict(self.worker), "worker_per_s": self.worker.worker_rate,
                             "fake_per_s": self.worker.direct_rate, "pickup_p50_ms": self.worker.pickup(0.5),
                             "pickup_p99_ms": self.worker.pickup(0.99)}
        out["rotation"] = [{**asdict(r), "keys_per_s": r.rate} for r in self.rotation]
        out["exports"] = exports_bench.to_json(self.exports)
        return out


def _section(result: DataResult, what: str, run: Any) -> None:
    """One measurement; a failure is reported and the others still run."""
    started = time.perf_counter()
    try:
        run()
    except BenchError as exc:
        result.problems.append(f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the app changes under the bench: say what broke and go on
        result.problems.append(f"{what}: {type(exc).__name__}: {str(exc)[:300]}")
    result.notes.append(f"{what}: {time.perf_counter() - started:.1f} s in all")


@dataclass
class Instance:
    env: dict[str, str]
    bench_app: BenchApp
    port: int
    directory: Path
    description: str


def _instance(stack: contextlib.ExitStack, name: str, directory: Path, args: argparse.Namespace) -> Instance:
    """A throw-away instance (keys, a database of its own, migrated) and the app on it in this process."""
    make_instance(directory)
    if name == "sqlite":
        database = Database(f"sqlite:///{directory / 'qzbg.sqlite3'}", "SQLite, a file of its own")
    else:
        database = stack.enter_context(postgres_database(os.environ[PG_ENV]))
    env = instance_env(directory, database.url, free_port(), args.workers)
    migrate(env, directory / "migrate.log")
    port = int(env["QZBG_BIND"].rsplit(":", 1)[1])
    return Instance(env, BenchApp(env), port, directory, database.description)


def run_data(name: str, root: Path, args: argparse.Namespace) -> DataResult:
    with contextlib.ExitStack() as stack:
        main = _instance(stack, name, root / f"{name}-data", args)
        env, bench_app, port, directory = main.env, main.bench_app, main.port, main.directory
        result = DataResult(name, main.description)
        apps = [bench_app]

        if args.list_sizes:
            def listing() -> None:
                result.listing = reporter_list.run(
                    bench_app, env, port, directory, args.list_sizes, args.list_requests, result.problems
                )

            _section(result, "reporter list", listing)
        if getattr(args, "inbox_sizes", None):
            def inbox() -> None:
                # A database of its own: the reporter list's copies keep the template's sealed sections, which
                # open only as the template row, and the inbox opens every listed row's victim section.
                own = _instance(stack, name, root / f"{name}-inbox", args)
                apps.append(own.bench_app)
                result.inbox = review_inbox.run(
                    own.bench_app, own.env, own.port, own.directory, args.inbox_sizes, args.inbox_requests,
                    result.problems,
                )

            _section(result, "staff inbox", inbox)
        if getattr(args, "stats_sizes", None) and name == "postgresql":
            def stats() -> None:
                result.stats, result.stats_plans = stats_bench.run(
                    bench_app, env, port, directory, args.stats_sizes, args.stats_requests, result.problems
                )
            _section(result, "statistics page", stats)
        if getattr(args, "export_sizes", None):
            def export() -> None:
                # A database of its own: the register opens every row's sealed sections, sealed for each copy.
                own = _instance(stack, name, root / f"{name}-exports", args)
                apps.append(own.bench_app)
                result.exports = exports_bench.run(own.bench_app, args.export_sizes, result.problems)

            _section(result, "register export", export)
        if args.worker_messages:
            def worker() -> None:
                result.worker = notify_worker.run(env, directory, args.worker_messages, result.problems)

            _section(result, "notify worker", worker)
        if args.rotation_sizes:
            def rotate() -> None:
                cipher = bench_app.app.config["QZBG"].field_cipher
                raw_keys = min(rotation.RAW_KEYS, max(args.rotation_sizes))
                result.raw_rewrap_per_s = rotation.raw_rewrap_rate(cipher, raw_keys)
                result.rotation = rotation.run(bench_app, args.rotation_sizes, args.rotation_batch_size)

            _section(result, "keys rotate", rotate)
        for app in apps:
            count, samples = server_log_problems(app.log)
            if count:
                result.problems.append(f"{count} error lines in the log of the app in this process: {samples[:3]}")
    return result


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_data(result: DataResult, args: argparse.Namespace) -> None:
    print()
    print(f"== {result.name}: reporter list, notify worker, keys rotate ({result.description}) ==")
    if result.listing:
        print(f"  GET /api/v1/reports, first page of a reporter with {reporter_list.FEW} reports older than all "
              f"others ({reporter_list.other_reporters([f.size for f in result.listing])} other reporters), "
              "one request at a time:")
        for f in result.listing:
            print(f"    {f.size:>9,} reports: p50 {f.p50_ms:7.1f} ms, p95 {f.p95_ms:7.1f} ms over {f.requests} "
                  f"requests (table filled in {f.load_s:.1f} s)")
        if len(result.listing) >= 2:
            small, big = result.listing[0], result.listing[-1]
            print(f"    p50 at {big.size:,} / at {small.size:,}: {_ratio(big.p50_ms, small.p50_ms)} (target <= 1.3x)")
    review_inbox.print_figures(result.inbox)
    stats_bench.print_figures(result.stats, result.stats_plans)
    exports_bench.print_figures(result.exports)
    if result.worker is not None:
        w = result.worker
        print(f"  notify worker (deliver_due, wechat_subscribe) to the fake WeChat on loopback: {w.sent} of "
              f"{w.messages} messages in {w.worker_s:.2f} s = {w.worker_rate:.0f} msg/s")
        print(f"    the fake's own rate, direct posts: {w.direct_posts} in {w.direct_s:.2f} s = {w.direct_rate:.0f}/s; "
              f"worker / fake: {_ratio(w.worker_rate, w.direct_rate)} (target >= 0.5x)")
        if w.pickup_ms:
            wake = "LISTEN/NOTIFY" if result.name == "postgresql" else "poll every QZBG_NOTIFY_POLL_MS"
            print(f"    pickup, outbox commit to delivery at the fake, idle `flask notify worker` ({wake}): "
                  f"p50 {w.pickup(0.5):.0f} ms, p99 {w.pickup(0.99):.0f} ms over {len(w.pickup_ms)} messages "
                  "(target: within 1 s)")
    if result.rotation:
        raw = result.raw_rewrap_per_s or 0.0
        print(f"  keys rotate (batch {args.rotation_batch_size}), raw re-wrap (Vault.rewrap in a loop, no database): "
              f"{raw:,.0f} keys/s")
        for r in result.rotation:
            print(f"    {r.size:>9,} data keys: {r.rewrapped:,} re-wrapped in {r.seconds:.2f} s = "
                  f"{r.rate:,.0f} keys/s, {_ratio(r.rate, raw)} of raw (target >= 0.5x)")
        if len(result.rotation) >= 2:
            small, big = result.rotation[0], result.rotation[-1]
            print(f"    keys/s at {big.size:,} / at {small.size:,}: {_ratio(big.rate, small.rate)} "
                  "(linear: about 1x)")
    for note in result.notes:
        print(f"  {note}")
