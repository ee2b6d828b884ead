"""The staff inbox (``GET /review/``) as the reports table grows (the target is PostgreSQL's; SQLite's is shown too).

A prosecutor of the default office asks for the inbox's first page and for a filtered page (``?status=reviewing``)
while the office holds ``sizes[0]`` and then ``sizes[1]`` reports. As an office's history grows its open work does
not: every size has the same ``OPEN`` open reports (new and reviewing, a few urgent, a few overdue) and the rest is
closed. The rows are real: one report made through the JSON API (the project's own code) is the template, and the
bulk is copied from it with SQLAlchemy core inserts (new ids, new unique values, times spread over a year), as
``bench/reporter_list.py`` does; the victim section, which the inbox opens for the masked name, is sealed again for
each copy with the vault (the sealed data are bound to the row id), and each copy gets its category row; the
office's closed-report counter, which ``change_status`` keeps, is then counted afresh. The instance and its
database are the inbox's own (no other bench's rows, whose sealed sections would not open). Each size
is measured against a fresh gunicorn, one request at a time, logged in through the real login pages (password and
TOTP); tables are ANALYZEd after each load, as autovacuum would do on PostgreSQL (on SQLite, the README asks the
operator to).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
import uuid
from pathlib import Path
from typing import Any

from bench.instance import BenchApp, gunicorn, server_log_problems
from bench.load import percentile
from bench.reporter_list import CHUNK, _generated_columns, _unique_value
from bench.staff_pages import create_prosecutor, login, measure

OPEN = 200  # open reports at every size
PAGES = {"first page": "/review/", "filtered page": "/review/?status=reviewing"}
USERNAME = "bench.prosecutor"
PASSWORD = "bench inbox passphrase 2026 long enough"  # noqa: S105 - a throw-away bench account


@dataclasses.dataclass
class InboxFigure:
    size: int
    page: str
    requests: int
    p50_ms: float
    p95_ms: float
    load_s: float
    rows: int


class Loader:
    """Copies the template report until the table holds a given number; the first ``OPEN`` copies are open."""

    def __init__(self, bench_app: BenchApp, template_id: uuid.UUID) -> None:
        self.bench_app = bench_app
        self.template_id = template_id
        self.copied = 0
        self.rng = random.Random(8)  # noqa: S311 - spreads rows, not secrets

    def _status(self, n: int) -> dict[str, Any]:
        if n > OPEN:
            return {"status": "closed", "acknowledged_at": None, "closed_at": None, "close_reason": "other",
                    "urgent": n % 10 == 0}
        return {"status": "new" if n % 4 == 0 else "reviewing", "urgent": n % 20 == 0}

    def fill_to(self, size: int) -> None:
        from sqlalchemy import func, insert, select, text

        from app.crypto.vault import get_vault
        from app.reports.models import Report
        from app.reports.service import recount_closed

        with self.bench_app.context() as db:
            table = db.metadata.tables["reports"]
            categories = db.metadata.tables["report_categories"]
            template = dict(db.session.execute(select(table).where(table.c.id == self.template_id)).mappings().one())
            data_key = db.session.get(Report, self.template_id).data_key
            victim = db.session.get(Report, self.template_id).section("victim")
            vault = get_vault()
            generated = _generated_columns(table)
            have = db.session.scalar(select(func.count()).select_from(table)) or 0
            now = dt.datetime.now(dt.UTC)
            while have < size:
                rows, category_rows = [], []
                for _ in range(min(CHUNK, size - have)):
                    self.copied += 1
                    n = self.copied
                    recent = n <= OPEN
                    at = now - dt.timedelta(seconds=self.rng.uniform(0, (3 if recent else 365) * 86400))
                    row = {**template, "id": uuid.uuid4(), **self._status(n), "submitted_at": at, "updated_at": at,
                           "acknowledge_due_at": at + dt.timedelta(hours=1 if n % 20 == 0 else 24)}
                    if row["status"] == "closed":
                        row["acknowledged_at"] = row["closed_at"] = at + dt.timedelta(hours=2)
                    elif row["status"] == "reviewing":
                        row["acknowledged_at"] = at + dt.timedelta(minutes=30)
                    for column in generated:
                        row[column.name] = _unique_value(column, n)
                    row["victim_data"] = vault.encrypt(data_key, "reports", "victim_data", row["id"], victim)
                    rows.append(row)
                    category_rows.append({"report_id": row["id"], "code": "abuse_injury"})
                db.session.execute(insert(table), rows)
                db.session.execute(insert(categories), category_rows)
                db.session.commit()
                have += len(rows)
            # The rows went in around change_status, which keeps each office's closed count: count them afresh.
            recount_closed()
            db.session.commit()
            # Statistics, as autovacuum keeps them on PostgreSQL; on SQLite the operator's ANALYZE (README):
            # without them SQLite may read the urgent band along the whole history instead of the open reports.
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def run(
    bench_app: BenchApp, env: dict[str, str], port: int, directory: Path, sizes: list[int], requests: int,
    problems: list[str],
) -> list[InboxFigure]:
    (_rid, token), = bench_app.reporters(1, "o-bench-inbox-")
    template = bench_app.submit(token, 1)[0]
    with bench_app.context():
        secret = create_prosecutor(USERNAME, PASSWORD, "压测")
    loader = Loader(bench_app, template)
    figures = []
    for step, size in enumerate(sorted(sizes)):
        started = time.perf_counter()
        loader.fill_to(size)
        load_s = time.perf_counter() - started
        log = directory / f"gunicorn-inbox-{size}.log"
        with gunicorn(env, port, log):
            jar = login(port, USERNAME, PASSWORD, secret, step)
            for name, path in PAGES.items():
                latencies, rows = measure(port, jar, path, requests)
                if rows == 0:
                    problems.append(f"inbox {name} at {size}: no rows")
                figures.append(InboxFigure(size, name, len(latencies), percentile(latencies, 50),
                                           percentile(latencies, 95), load_s, rows))
        count, samples = server_log_problems(log)
        if count:
            problems.append(f"inbox at {size}: {count} error lines in the server log: {samples[:2]}")
    return figures


def print_figures(figures: list[InboxFigure]) -> None:
    if not figures:
        return
    print(f"  GET /review/ as a prosecutor, the newest {OPEN} reports open at every size (a few urgent or overdue), "
          "the rest closed, one request at a time:")
    for f in figures:
        print(f"    {f.size:>9,} reports, {f.page:<13}: p50 {f.p50_ms:7.1f} ms, p95 {f.p95_ms:7.1f} ms over "
              f"{f.requests} requests, {f.rows} rows (table filled in {f.load_s:.1f} s)")
    sizes = sorted({f.size for f in figures})
    if len(sizes) >= 2:
        for page in PAGES:
            small = next(f for f in figures if f.size == sizes[0] and f.page == page)
            big = next(f for f in figures if f.size == sizes[-1] and f.page == page)
            ratio = f"{big.p50_ms / small.p50_ms:.2f}x" if small.p50_ms else "n/a"
            print(f"    {page}: p50 at {big.size:,} / at {small.size:,}: {ratio} (target <= 1.3x)")
