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
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PG_ENV, ROOT, BenchError
from bench.crypto import bench_crypto, print_crypto
from bench.data import DataResult, print_data, run_data
from bench.intake import BackendResult, print_backend, run_backend
from bench.machine import machine_info, print_machine


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
    parser.add_argument(
        "--on-duty", type=int, default=5,
        help="prosecutors with WeCom ids for the enqueue and urgent-latency runs (default 5; 0 skips both)",
    )
    parser.add_argument("--urgent-rate", type=float, default=3.0,
                        help="urgent submissions per second for the urgent-latency run (default 3)")
    parser.add_argument(
        "--backlog-reports", type=int, default=1_000_000,
        help="reports loaded before the urgent-latency run, so that it goes on while the jobs work through a long "
             "history (default 1000000 on PostgreSQL; at most 100000 on SQLite; 0 skips)",
    )
    parser.add_argument("--backlog-due", type=int, default=2000,
                        help="of those, urgent ones past escalation and transfers past their deadlines (default 2000)")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn runs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary instances (server logs, SQLite files) for inspection"
    )
    parser.add_argument("--no-crypto", action="store_true", help="skip the encryption timings")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the minimal-insert ceiling app")
    parser.add_argument(
        "--list-sizes", type=_sizes, default=[1000, 100_000],
        help="reports in the table for the reporter-list run (default 1000,100000; 0 to skip)",
    )
    parser.add_argument("--list-requests", type=int, default=100, help="requests per list size (default 100)")
    parser.add_argument(
        "--inbox-sizes", type=_sizes, default=[1000, 100_000],
        help="reports in the table for the staff inbox run, on an instance of its own (default 1000,100000; 0 to skip)",
    )
    parser.add_argument("--inbox-requests", type=int, default=50, help="requests per inbox page and size (default 50)")
    parser.add_argument(
        "--stats-sizes", type=_sizes, default=[10_000, 1_000_000],
        help="reports in the table for the statistics page run, PostgreSQL only (default 10000,1000000; 0 to skip)",
    )
    parser.add_argument("--stats-requests", type=int, default=20, help="statistics page requests per size (default 20)")
    parser.add_argument(
        "--export-sizes", type=_sizes, default=[1000, 100_000],
        help="reports (all of the year) for the register export run, on an instance of its own "
             "(default 1000,100000; 0 to skip)",
    )
    parser.add_argument(
        "--worker-messages", type=int, default=500, help="messages for the notify worker run (default 500; 0 skips)"
    )
    parser.add_argument(
        "--rotation-sizes", type=_sizes, default=[10_000, 100_000],
        help="data keys for the keys-rotate runs (default 10000,100000; 0 to skip)",
    )
    parser.add_argument("--rotation-batch-size", type=int, default=500, help="keys rotate --batch-size (default 500)")
    parser.add_argument("--no-data", action="store_true", help="skip the reporter list, worker and rotation runs")
    parser.add_argument(
        "--json", type=Path, default=None,
        help="also write the figures as JSON here (default bench/results/<time>.json; '-' for none)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.concurrency < 1 or args.workers < 1 or args.reporters < 1:
        parser.error("--seconds, --concurrency, --workers and --reporters must be positive")
    if args.on_duty < 0 or args.urgent_rate <= 0:
        parser.error("--on-duty must be 0 or more and --urgent-rate positive")
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


def _sizes(text: str) -> list[int]:
    sizes = [int(x) for x in text.split(",") if x.strip()]
    return [] if sizes == [0] else sizes


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _to_json(info: dict[str, Any], args: argparse.Namespace, backends: list[BackendResult],
             crypto: dict[str, Any] | None, data: list[DataResult]) -> dict[str, Any]:
    return {
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "backends": [
            {
                "name": b.name, "description": b.description, "notes": b.notes, "problems": b.problems,
                "scenarios": [{**vars(s), "req_per_s": s.rate} for s in b.scenarios],
                "ceiling": None if b.ceiling is None else {**vars(b.ceiling), "req_per_s": b.ceiling.rate},
                "figures": b.figures,
                "urgent": None if b.urgent is None else b.urgent.to_json(),
            }
            for b in backends
        ],
        "crypto": crypto,
        "data": [d.to_json() for d in data],
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
    data: list[DataResult] = []
    crypto = None
    failed = False
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="qzbg-bench-"))
    try:
        for name in args.backends:
            if not args.no_http:
                try:
                    result = run_backend(name, root, args)
                except BenchError as exc:
                    print(f"\n== {name}: FAILED ==\n{exc}")
                    failed = True
                else:
                    backends.append(result)
                    print_backend(result)
                sys.stdout.flush()
            if not args.no_data:
                try:
                    figures = run_data(name, root, args)
                except BenchError as exc:
                    print(f"\n== {name}: reporter list, worker, rotation FAILED ==\n{exc}")
                    failed = True
                else:
                    data.append(figures)
                    print_data(figures, args)
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

    problems = [f"{b.name}: {p}" for b in [*backends, *data] for p in b.problems]
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
        args.json.write_text(json.dumps(_to_json(info, args, backends, crypto, data), indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
