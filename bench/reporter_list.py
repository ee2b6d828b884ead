"""A reporter's first page (``GET /api/v1/reports``) as the reports table grows.

One reporter with a few reports, older than everyone else's (a doctor who reported
twice last year, say), asks for the first page while the table holds ``sizes[0]``
and then ``sizes[1]`` reports of many other reporters. The rows are real: report
rows made through the project's own code (the JSON API, in this process) serve as
templates, and the bulk is copied from one of them with SQLAlchemy core inserts,
with new ids, new values for every unique column, other reporters and times spread
over the last 30 days (their sealed columns are the template's, so they open only
as the template row; nothing here opens them). Each size is measured against a fresh
gunicorn, one request at a time; PostgreSQL tables are ANALYZEd after each load, as
autovacuum would do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import random
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import HOST, REPORTS_PATH, BenchError
from bench.instance import BenchApp, gunicorn, server_log_problems
from bench.load import percentile

FEW = 3  # reports of the measured reporter
OTHER_REPORTERS = 500
CHUNK = 5000


def other_reporters(sizes: list[int]) -> int:
    return OTHER_REPORTERS if max(sizes) >= 10_000 else 5


@dataclasses.dataclass
class ListFigure:
    size: int
    requests: int
    p50_ms: float
    p95_ms: float
    load_s: float
    page_items: int


def _unique_value(column: Any, n: int) -> Any:
    from sqlalchemy import Integer, Uuid

    if isinstance(column.type, Uuid):
        return uuid.uuid4()
    if isinstance(column.type, Integer):
        return 1_000_000_000 + n
    length = getattr(column.type, "length", None) or 32
    return f"B{n:011d}"[-length:]


def _generated_columns(table: Any) -> list[Any]:
    """Columns that must differ from row to row: unique ones that are neither the key nor a foreign key."""
    from sqlalchemy import UniqueConstraint

    names = {c.name for c in table.columns if c.unique}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names |= {c.name for c in constraint.columns}
    for index in table.indexes:
        if index.unique:
            names |= {c.name for c in index.columns}
    return [c for c in table.columns if c.name in names and not c.primary_key and not c.foreign_keys]


class Loader:
    """Copies one template report row until the table holds a given number of reports."""

    def __init__(self, bench_app: BenchApp, template_id: uuid.UUID, reporter_ids: list[Any]) -> None:
        self.bench_app = bench_app
        self.template_id = template_id
        self.reporter_ids = reporter_ids
        self.copied = 0
        self.rng = random.Random(6)  # noqa: S311 - spreads rows, not secrets

    def fill_to(self, size: int) -> None:
        from sqlalchemy import func, insert, select, text

        with self.bench_app.context() as db:
            table = db.metadata.tables["reports"]
            template = dict(db.session.execute(select(table).where(table.c.id == self.template_id)).mappings().one())
            generated = _generated_columns(table)
            have = db.session.scalar(select(func.count()).select_from(table)) or 0
            now = dt.datetime.now(dt.UTC)
            while have < size:
                rows = []
                for _ in range(min(CHUNK, size - have)):
                    self.copied += 1
                    at = now - dt.timedelta(seconds=self.rng.uniform(0, 30 * 86400))
                    row = {**template, "id": uuid.uuid4(), "reporter_id": self.rng.choice(self.reporter_ids)}
                    for name in ("submitted_at", "updated_at"):
                        if name in row:
                            row[name] = at
                    if "acknowledge_due_at" in row:
                        row["acknowledge_due_at"] = at + dt.timedelta(hours=24)
                    for column in generated:
                        row[column.name] = _unique_value(column, self.copied)
                    rows.append(row)
                db.session.execute(insert(table), rows)
                db.session.commit()
                have += len(rows)
            if db.engine.dialect.name == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()


def _age(bench_app: BenchApp, report_ids: list[uuid.UUID]) -> None:
    """Move the measured reporter's reports a year back: older than every copied row."""
    from sqlalchemy import update

    with bench_app.context() as db:
        table = db.metadata.tables["reports"]
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
        for i, report_id in enumerate(report_ids):
            at = long_ago + dt.timedelta(hours=i)
            values = {name: at for name in ("submitted_at", "updated_at") if name in table.c}
            db.session.execute(update(table).where(table.c.id == report_id).values(values))
        db.session.commit()


def _measure(port: int, token: str, requests: int) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    items = 0
    warm = max(5, requests // 10)  # the first ones warm the workers up
    for i in range(warm + requests):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", REPORTS_PATH, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        if response.status != 200:
            raise BenchError(f"GET {REPORTS_PATH} answered {response.status}: {body[:300]!r}")
        if i >= warm:
            latencies.append(elapsed * 1000)
        items = body.count(b'"tracking_no"')
    return sorted(latencies), items


def run(
    bench_app: BenchApp, env: dict[str, str], port: int, directory: Path, sizes: list[int], requests: int,
    problems: list[str],
) -> list[ListFigure]:
    (few_id, few_token), = bench_app.reporters(1, "o-bench-few-")
    others = bench_app.reporters(other_reporters(sizes), "o-bench-other-")
    mine = bench_app.submit(few_token, FEW)
    template = bench_app.submit(others[0][1], 1)[0]
    _age(bench_app, mine)
    loader = Loader(bench_app, template, [rid for rid, _ in others])
    figures = []
    for size in sorted(sizes):
        started = time.perf_counter()
        loader.fill_to(size)
        load_s = time.perf_counter() - started
        log = directory / f"gunicorn-list-{size}.log"
        with gunicorn(env, port, log):
            latencies, items = _measure(port, few_token, requests)
        count, samples = server_log_problems(log)
        if count:
            problems.append(f"reporter list at {size}: {count} error lines in the server log: {samples[:2]}")
        if items != FEW:
            problems.append(f"reporter list at {size}: the first page held {items} reports, not {FEW}")
        figures.append(ListFigure(size, len(latencies), percentile(latencies, 50), percentile(latencies, 95),
                                  load_s, items))
    return figures
