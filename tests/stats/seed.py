"""A seeded office for the statistics tests: reports of known times and outcomes in 2025, through the real
services and the state machine, and the counts a test makes straight from the tables to compare with."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.core.actor import Actor
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.reports.models import Report, ReportCategory
from app.reports.records import Transfer
from app.review import service as review
from app.units.models import Unit
from tests.factories import CST, create_office, create_report, create_staff, create_unit

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
PERIOD = f"from={FIRST.isoformat()}&to={LAST.isoformat()}"


def cst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST).astimezone(dt.UTC)


@dataclasses.dataclass
class Seeded:
    prosecutor: Any
    units: dict[str, Unit]
    reports: dict[str, Report]


def _step(action: Any, report: Report, actor: Actor, at: dt.datetime, **kwargs: Any) -> Any:
    result = action(report, actor=actor, version=report.version, now=at, **kwargs)
    db.session.flush()
    return result


def seed() -> Seeded:
    """Office 1 (default): units A (hospital, 3 reports), B (school, 3), C (active, none: silent), D (inactive,
    none: not silent); a public report; reports on both sides of the period's CST boundaries; another office's
    report. Returns the logged-in-able prosecutor and the rows."""
    prosecutor = create_staff(role="prosecutor", display_name="统计检察官")
    station = PoliceUnit(code="pcs-stats", name="城北派出所", office_id=1)
    db.session.add(station)
    db.session.flush()
    actor = Actor.staff(prosecutor)
    police = Actor.staff(create_staff(role="police", police_unit=station))
    units = {
        "A": create_unit("stats-a", name="市第一医院", type="hospital", district_code="330102"),
        "B": create_unit("stats-b", name="实验小学", type="school", district_code="330103"),
        "C": create_unit("stats-c", name="阳光幼儿园", type="kindergarten", district_code="330103"),
        "D": create_unit("stats-d", name="已撤销诊所", type="clinic", district_code="330102", active=False),
    }
    r: dict[str, Report] = {}

    def new(name: str, at: dt.datetime, unit: str | None = None, **sections: Any) -> Report:
        r[name] = create_report(status="new", unit=units[unit] if unit else None, now=at, commit=False, **sections)
        return r[name]

    def transfer(report: Report, at: dt.datetime) -> Transfer:
        return _step(review.transfer, report, actor, at, police_unit="pcs-stats", document_no="检移〔2025〕1号",
                     contact=None, share_reporter=False, note=None, deadlines=review.Deadlines(),
                     outbound=Outbound.of(current_app.config["QZBG"]))

    # R1: new, never acknowledged: the acknowledgement deadline (24 h) passed in March: overdue.
    new("R1", cst(2025, 3, 10, 10, 0), "A")
    # R2: acknowledged after 2 hours.
    new("R2", cst(2025, 3, 15, 9, 0), "A", categories=["abandonment"])
    _step(review.acknowledge, r["R2"], actor, cst(2025, 3, 15, 11, 0))
    # R3: acknowledged after 1 h, transferred after 5 h, police receipt in time, accepted (受案) after 1 day.
    new("R3", cst(2025, 4, 1, 8, 0), "B", categories=["abuse_injury", "abandonment"])
    _step(review.acknowledge, r["R3"], actor, cst(2025, 4, 1, 9, 0))
    transfer(r["R3"], cst(2025, 4, 1, 13, 0))
    _step(review.police_acknowledge, r["R3"], police, cst(2025, 4, 1, 15, 0))
    _step(review.record_feedback, r["R3"], actor, cst(2025, 4, 2, 13, 0), outcome="accepted", case_no="A1",
          decided_at=dt.date(2025, 4, 2), note=None, outbound=Outbound.of(current_app.config["QZBG"]))
    # R4: public, transferred, not filed (不予立案), then supervised (立案监督).
    new("R4", cst(2025, 5, 5, 20, 0), None, categories=["missing_or_trafficked"])
    _step(review.acknowledge, r["R4"], actor, cst(2025, 5, 5, 20, 30))
    transfer(r["R4"], cst(2025, 5, 6, 9, 0))
    _step(review.police_acknowledge, r["R4"], police, cst(2025, 5, 6, 10, 0))
    _step(review.record_feedback, r["R4"], actor, cst(2025, 5, 8, 9, 0), outcome="not_filed", case_no=None,
          decided_at=dt.date(2025, 5, 8), note=None, outbound=Outbound.of(current_app.config["QZBG"]))
    _step(review.supervise, r["R4"], actor, cst(2025, 5, 9, 9, 0), note="请说明不立案理由",
          deadlines=review.Deadlines())
    _step(review.police_explain, r["R4"], police, cst(2025, 5, 10, 9, 0), note="已说明",
          outbound=Outbound.of(current_app.config["QZBG"]))
    # R5: transferred, filed (立案) after 4 days (late: overdue), then closed.
    new("R5", cst(2025, 6, 1, 10, 0), "B")
    _step(review.acknowledge, r["R5"], actor, cst(2025, 6, 1, 10, 30))
    transfer(r["R5"], cst(2025, 6, 1, 12, 0))
    _step(review.police_acknowledge, r["R5"], police, cst(2025, 6, 1, 13, 0))
    _step(review.record_feedback, r["R5"], actor, cst(2025, 6, 5, 12, 0), outcome="filed", case_no="F1",
          decided_at=dt.date(2025, 6, 5), note=None, outbound=Outbound.of(current_app.config["QZBG"]))
    _step(review.close, r["R5"], actor, cst(2025, 6, 20, 10, 0), reason="after_transfer", merge_into=None, note=None)
    # R6: acknowledged the next day (late: overdue) and closed in July.
    new("R6", cst(2025, 7, 1, 10, 0), "A", categories=["abuse_injury"])
    _step(review.acknowledge, r["R6"], actor, cst(2025, 7, 2, 12, 0))
    _step(review.close, r["R6"], actor, cst(2025, 7, 3, 10, 0), reason="no_transfer_needed", merge_into=None,
          note=None)
    # The CST boundaries: the last second of 2024 and the first of 2026 are outside, the first and last of 2025
    # inside (the UTC day differs from the China day at each).
    for name, at in (("before", cst(2024, 12, 31, 23, 59, 59)), ("first", cst(2025, 1, 1, 0, 0, 0)),
                     ("last", cst(2025, 12, 31, 23, 59, 59)), ("after", cst(2026, 1, 1, 0, 0, 0))):
        new(name, at, "B" if name in ("first", "last") else None)
        _step(review.acknowledge, r[name], actor, at + dt.timedelta(minutes=10))
    # Another office's report in the period: never counted here.
    other = create_office()
    report = create_report(status="new", now=cst(2025, 8, 1, 10, 0), commit=False)
    report.office_id = other.id
    r["other_office"] = report
    db.session.commit()
    return Seeded(prosecutor, units, r)


def add_practice_reports(seeded: Seeded, n: int = 3) -> list[Report]:
    """``n`` practice reports of unit C in September 2025, each acknowledged, transferred and given police
    feedback (不予立案): were they counted, every kind of figure would move (and C would not be silent)."""
    at = cst(2025, 9, 1, 10, 0)
    actor = Actor.staff(seeded.prosecutor)
    practice = [create_report(status="new", unit=seeded.units["C"], now=at, training=True) for _ in range(n)]
    for i, report in enumerate(practice):
        _step(review.acknowledge, report, actor, at + dt.timedelta(minutes=10 + i))
        _step(review.transfer, report, actor, at + dt.timedelta(hours=1 + i), police_unit="pcs-stats",
              document_no="检移〔2025〕9号", contact=None, share_reporter=False, note=None,
              deadlines=review.Deadlines(), outbound=Outbound.of(current_app.config["QZBG"]))
        _step(review.record_feedback, report, actor, at + dt.timedelta(days=1, hours=i), outcome="not_filed",
              case_no=None, decided_at=(at + dt.timedelta(days=1)).date(), note=None,
              outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    return practice


def db_counts(office_id: int = 1, unit_id: int | None = None, *, training: bool = False) -> dict[str, int]:
    """The headline figures counted straight from the rows, one by one (the README's definitions); practice
    reports left out unless ``training`` (what the figures would be if they counted)."""
    start, end = cst(2025, 1, 1), cst(2026, 1, 1)
    now = dt.datetime.now(dt.UTC)

    def inside(t: dt.datetime | None) -> bool:
        return t is not None and start <= t < end

    reports = [x for x in db.session.scalars(select(Report).where(Report.office_id == office_id))
               if (unit_id is None or x.unit_id == unit_id) and (training or not x.training)]
    ids = {x.id for x in reports}
    transfers = [t for t in db.session.scalars(select(Transfer)) if t.report_id in ids]
    overdue = {x.id for x in reports if inside(x.acknowledge_due_at) and x.acknowledge_due_at < now
               and ((x.acknowledged_at is None and x.status == "new")
                    or (x.acknowledged_at is not None and x.acknowledged_at > x.acknowledge_due_at))}
    for t in transfers:
        late_feedback = inside(t.feedback_due_at) and t.feedback_due_at < now and (
            (t.feedback_at is not None and t.feedback_at > t.feedback_due_at)
            or (t.feedback_at is None and t.state == "open"))
        late_receipt = inside(t.receipt_due_at) and t.receipt_due_at < now and (
            (t.acknowledged_at is not None and t.acknowledged_at > t.receipt_due_at)
            or (t.acknowledged_at is None and t.state == "open"))
        if late_feedback or late_receipt:
            overdue.add(t.report_id)
    units = db.session.scalars(select(Unit).where(Unit.office_id == office_id, Unit.active.is_(True))).all()
    filing = {x.unit_id for x in reports if inside(x.submitted_at)}
    return {
        "received": sum(inside(x.submitted_at) for x in reports),
        "acknowledged": sum(inside(x.acknowledged_at) for x in reports),
        "transferred": len({t.report_id for t in transfers if inside(t.created_at)}),
        "accepted": len({t.report_id for t in transfers if inside(t.feedback_at) and t.feedback_outcome == "accepted"}),
        "filed": len({t.report_id for t in transfers if inside(t.feedback_at) and t.feedback_outcome == "filed"}),
        "not_filed": len({t.report_id for t in transfers
                          if inside(t.feedback_at) and t.feedback_outcome == "not_filed"}),
        "supervised": len({t.report_id for t in transfers if inside(t.supervision_requested_at)}),
        "closed": sum(inside(x.closed_at) and x.status == "closed" for x in reports),
        "overdue": len(overdue),
        "silent_units": sum(1 for u in units if u.id not in filing and (unit_id is None or u.id == unit_id)),
        "unreported": 0,  # no filed cases in this seed: tests/cases counts 应报未报 against imported cases
    }


def category_counts(office_id: int = 1, unit_id: int | None = None) -> dict[str, int]:
    start, end = cst(2025, 1, 1), cst(2026, 1, 1)
    counts: dict[str, int] = {}
    for code, report in db.session.execute(select(ReportCategory.code, Report).join(Report)):
        if report.office_id == office_id and start <= report.submitted_at < end \
                and (unit_id is None or report.unit_id == unit_id):
            counts[code] = counts.get(code, 0) + 1
    return counts
