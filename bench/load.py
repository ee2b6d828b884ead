"""Load generation: C client threads, each with its own http.client connection, for a fixed time."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import CLIENT_ID_MARK, HEALTH_PATH, HOST, REPORTS_PATH
from bench.machine import client_cpu, machine_cpu, pids_cpu, process_tree_cpu


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    # (body, headers, what identifies the request in the database: a report's client_id; None for none)
    build: Callable[[random.Random], tuple[bytes | None, dict[str, str], str | None]]
    created_status: int | None = None  # responses with this status carry a new tracking number


@dataclass
class ThreadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # exceptions: no HTTP status at all
    unanswered: list[str] = field(default_factory=list)  # the ids of the requests that ended in an exception
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
    # Requests that ended in a client-side exception (timeout, reset): the server may still have committed them.
    unanswered: list[str]
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
        body, headers, ident = scenario.build(rng)
        fresh = conn.sock is None
        started = perf()
        try:
            conn.request(scenario.method, scenario.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            out.failures[type(exc).__name__] += 1
            if ident is not None:
                out.unanswered.append(ident)
            if len(out.samples) < 5:
                where = "a reused" if not fresh else "a new"
                out.samples.append(f"{type(exc).__name__} after {perf() - started:.1f} s on {where} connection: "
                                   f"{exc}"[:200])
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
        unanswered=[i for r in results for i in r.unanswered],
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

    def build(rng: random.Random) -> tuple[bytes, dict[str, str], str]:
        client_id = str(uuid.uuid4())
        payload = before + client_id.encode() + after
        return payload, {"Content-Type": "application/json", "Authorization": rng.choice(auth)}, client_id

    return Scenario(f"POST {REPORTS_PATH}", "POST", REPORTS_PATH, build, created_status=201)


def health_scenario() -> Scenario:
    return Scenario(f"GET {HEALTH_PATH}", "GET", HEALTH_PATH, lambda rng: (None, {}, None))
