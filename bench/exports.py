"""Exports (app/exports) as the office's history grows: the case register of a year, written by the export runner.

The office holds ``sizes[0]`` and then ``sizes[1]`` reports, all received in the last year, so the register of that
year has as many rows as the table has reports. The rows are real: one report made through the JSON API is the
template, copied with core inserts (new ids and unique values, times spread over the year), every sealed column
sealed again for each copy (the register opens the victim's and the reporter's sections; sealed data are bound to
the row id); one report in three was transferred to the police, who answered with a case number (sealed too, opened
for the register), so the register's latest-transfer look-up has a history to read. For each size a prosecutor asks
for the register (``exports.service.ask``) and the runner writes it (``run_next``, in this process, as the notify
worker's thread would): the figure is the runner's time and CPU per exported row, and the target is the time per row
at the larger size within 1.3x of the smaller's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
import uuid
from typing import Any

from bench.instance import BenchApp
from bench.reporter_list import CHUNK, _generated_columns, _unique_value
from bench.staff_pages import create_prosecutor

USERNAME = "bench.exporter"
PASSWORD = "bench export passphrase 2026 long enough"  # noqa: S105 - a throw-away bench account
CST = dt.timezone(dt.timedelta(hours=8))


@dataclasses.dataclass
class ExportFigure:
    size: int
    rows: int
    seconds: float
    cpu_seconds: float
    file_bytes: int
    load_s: float

    @property
    def ms_per_row(self) -> float:
        return self.seconds * 1000 / self.rows if self.rows else 0.0

    @property
    def cpu_ms_per_row(self) -> float:
        return self.cpu_seconds * 1000 / self.rows if self.rows else 0.0


def _police_unit(db: Any) -> int:
    from sqlalchemy import select

    from app.offices.models import PoliceUnit
    from app.offices.queries import default_office

    found = db.session.scalar(select(PoliceUnit.id).where(PoliceUnit.code == "bench-pcs"))
    if found is None:
        unit = PoliceUnit(code="bench-pcs", name="压测派出所", office_id=default_office().id)
        db.session.add(unit)
        db.session.commit()
        found = unit.id
    return int(found)


def _fill_to(bench_app: BenchApp, template_id: uuid.UUID, size: int, rng: random.Random, copied: list[int]) -> None:
    from sqlalchemy import func, insert, select

    from app.crypto.vault import get_vault
    from app.reports.models import Report

    with bench_app.context() as db:
        table = db.metadata.tables["reports"]
        categories = db.metadata.tables["report_categories"]
        transfers = db.metadata.tables["transfers"]
        police = _police_unit(db)
        template = dict(db.session.execute(select(table).where(table.c.id == template_id)).mappings().one())
        report = db.session.get(Report, template_id)
        vault, key = get_vault(), report.data_key
        sealed = {name: vault.decrypt(key, "reports", name, template_id, blob)
                  for name, blob in template.items() if name.endswith("_data") and blob is not None}
        generated = _generated_columns(table)
        have = db.session.scalar(select(func.count()).select_from(table)) or 0
        now = dt.datetime.now(dt.UTC)
        while have < size:
            rows, category_rows, transfer_rows = [], [], []
            for _ in range(min(CHUNK, size - have)):
                copied[0] += 1
                at = now - dt.timedelta(seconds=rng.uniform(3600, 360 * 86400))
                row = {**template, "id": uuid.uuid4(), "submitted_at": at, "updated_at": at,
                       "acknowledge_due_at": at + dt.timedelta(hours=24)}
                for column in generated:
                    row[column.name] = _unique_value(column, copied[0])
                for name, value in sealed.items():
                    row[name] = vault.encrypt(key, "reports", name, row["id"], value)
                rows.append(row)
                category_rows.append({"report_id": row["id"], "code": "abuse_injury"})
                if copied[0] % 3 == 0:
                    moved, transfer_id = at + dt.timedelta(hours=3), uuid.uuid4()
                    row["status"] = "police_responded"
                    transfer_rows.append({
                        "id": transfer_id, "report_id": row["id"], "police_unit_id": police,
                        "office_id": row["office_id"], "report_submitted_at": at, "training": False,
                        "state": "open", "share_reporter": False, "created_at": moved,
                        "receipt_due_at": moved + dt.timedelta(hours=24),
                        "feedback_due_at": moved + dt.timedelta(hours=72),
                        "acknowledged_at": moved + dt.timedelta(hours=1), "feedback_outcome": "filed",
                        "feedback_at": moved + dt.timedelta(hours=30),
                        "case_no_data": vault.encrypt(key, "transfers", "case_no_data", transfer_id,
                                                      f"公立字〔2026〕{copied[0]}号"),
                    })
            db.session.execute(insert(table), rows)
            db.session.execute(insert(categories), category_rows)
            if transfer_rows:
                db.session.execute(insert(transfers), transfer_rows)
            db.session.commit()
            have += len(rows)


def run(bench_app: BenchApp, sizes: list[int], problems: list[str]) -> list[ExportFigure]:
    from app.core.actor import Actor
    from app.crypto.vault import get_vault
    from app.exports import service
    from app.exports.models import READY, Export

    (_rid, token), = bench_app.reporters(1, "o-bench-export-")
    template = bench_app.submit(token, 1)[0]
    with bench_app.context() as db:
        create_prosecutor(USERNAME, PASSWORD, "导出压测")
        from app.auth.models import StaffUser

        user_id = db.session.query(StaffUser.id).filter(StaffUser.username == USERNAME).scalar()
    rng = random.Random(17)  # noqa: S311 - spreads rows, not secrets
    copied = [0]
    figures = []
    for size in sorted(sizes):
        started = time.perf_counter()
        _fill_to(bench_app, template, size, rng, copied)
        load_s = time.perf_counter() - started
        with bench_app.context() as db:
            settings = bench_app.app.config["QZBG"]
            now = dt.datetime.now(dt.UTC)
            first = (now - dt.timedelta(days=365)).astimezone(CST).date()
            user = db.session.get(StaffUser, user_id)
            asked = service.ask(Actor.staff(user), "register",
                                {"from": first.isoformat(), "to": now.astimezone(CST).date().isoformat()},
                                title="bench", filename="bench.xlsx", now=now, vault=get_vault())
            export_id = asked.export.id
            db.session.commit()
            wall, cpu = time.perf_counter(), time.process_time()
            service.run_next(owner="bench", settings=settings, vault=get_vault(),
                             clock=lambda: dt.datetime.now(dt.UTC))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            export = db.session.get(Export, export_id)
            if export is None or export.state != READY:
                problems.append(f"register export at {size}: {export.state if export else 'gone'} "
                                f"({export.error if export else ''})")
                continue
            figures.append(ExportFigure(size, export.total or 0, wall, cpu, export.stored_size or 0, load_s))
            if (export.total or 0) != size:
                problems.append(f"register export at {size}: {export.total} rows, not {size}")
            service.sweep(export.expires_at, exports_dir=settings.exports_dir)
            db.session.commit()
    return figures


def print_figures(figures: list[ExportFigure]) -> None:
    if not figures:
        return
    print("  the case register of a year (every report of the table), written by the export runner in this process:")
    for f in figures:
        print(f"    {f.size:>9,} reports: {f.rows:,} rows in {f.seconds:.1f} s ({f.ms_per_row:.3f} ms/row, CPU "
              f"{f.cpu_ms_per_row:.3f} ms/row), {f.file_bytes / 1e6:.1f} MB sealed (table filled in {f.load_s:.1f} s)")
    if len(figures) >= 2:
        small, big = figures[0], figures[-1]
        ratio = f"{big.ms_per_row / small.ms_per_row:.2f}x" if small.ms_per_row else "n/a"
        cpu = f"{big.cpu_ms_per_row / small.cpu_ms_per_row:.2f}x" if small.cpu_ms_per_row else "n/a"
        print(f"    time per row at {big.size:,} / at {small.size:,}: {ratio} (CPU {cpu}; target <= 1.3x)")


def to_json(figures: list[ExportFigure]) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(f), "ms_per_row": f.ms_per_row, "cpu_ms_per_row": f.cpu_ms_per_row}
            for f in figures]
