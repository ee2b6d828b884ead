"""倒查 from the data: which units named in a filed case reported it, and the 应报未报 ledger.

A case is "reported" by a unit it names when a report of that unit (not a practice report) carries the same
victim ID number (the blind index: nothing is decrypted) and was submitted from 30 days before the filing date to
the end of it; otherwise it is 应报未报 for that unit. Counted in SQL on both backends, the window being stored
with the case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select

from app.cases.models import FiledCase, FiledCaseUnit, Recommendation
from app.core.db import by_text_id
from app.errors import NotFoundError
from app.extensions import db
from app.reports.models import Report
from app.units.models import Unit


def _reported_by_unit() -> Any:
    """True where the case's unit has a report of the child within the case's window, or a prosecutor judged a
    report of the unit with the child's name (and no matching ID number) to be of the same child."""
    # coalesce: a NULL judgement must read as false, or NOT (NULL OR false) would drop the row from the ledger.
    return or_(func.coalesce(FiledCaseUnit.name_match, "") == "same", exists().where(
        Report.unit_id == FiledCaseUnit.unit_id, Report.victim_id_bidx == FiledCase.victim_id_bidx,
        Report.training.is_(False), Report.submitted_at >= FiledCase.window_start,
        Report.submitted_at < FiledCase.window_end,
    ))


def _unreported(office_id: int, first: dt.date, last: dt.date, unit_id: int | None = None) -> Any:
    conditions = [FiledCase.office_id == office_id, FiledCase.filed_on >= first, FiledCase.filed_on <= last,
                  not_(_reported_by_unit())]
    if unit_id is not None:
        conditions.append(FiledCaseUnit.unit_id == unit_id)
    return and_(*conditions)


def unreported_count(office_id: int, first: dt.date, last: dt.date, *, unit_id: int | None = None) -> int:
    """Findings (a case and a unit it names that did not report it) of cases filed in [first, last]."""
    return int(db.session.scalar(
        select(func.count()).select_from(FiledCaseUnit).join(FiledCase, FiledCase.id == FiledCaseUnit.case_id)
        .where(_unreported(office_id, first, last, unit_id))) or 0)


@dataclasses.dataclass(frozen=True)
class Finding:
    case_id: uuid.UUID
    case_no: str
    filed_on: dt.date
    category: str | None
    decision: str | None
    reason: str | None


@dataclasses.dataclass
class UnitLedger:
    unit_id: int
    code: str
    name: str
    type: str
    district_code: str | None
    findings: list[Finding] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def confirmed(self) -> int:
        return sum(f.decision == "confirmed" for f in self.findings)

    @property
    def excused(self) -> int:
        return sum(f.decision == "excused" for f in self.findings)


def ledger(office_id: int, first: dt.date, last: dt.date, *, unit_type: str | None = None,
           district: str | None = None) -> list[UnitLedger]:
    """Per member unit with findings in the period, its unreported cases (oldest first); most findings first."""
    query = (
        select(Unit.id, Unit.code, Unit.name, Unit.type, Unit.district_code, FiledCase.id, FiledCase.case_no,
               FiledCase.filed_on, FiledCase.category, FiledCaseUnit.decision, FiledCaseUnit.reason)
        .select_from(FiledCaseUnit).join(FiledCase, FiledCase.id == FiledCaseUnit.case_id)
        .join(Unit, Unit.id == FiledCaseUnit.unit_id)
        .where(_unreported(office_id, first, last))
        .order_by(FiledCase.filed_on, FiledCase.case_no)
    )
    if unit_type:
        query = query.where(Unit.type == unit_type)
    if district:
        query = query.where(Unit.district_code == district)
    units: dict[int, UnitLedger] = {}
    for uid, code, name, kind, district_code, case_id, case_no, filed_on, category, decision, reason in (
            db.session.execute(query)):
        entry = units.setdefault(uid, UnitLedger(uid, code, name, kind, district_code))
        entry.findings.append(Finding(case_id, case_no, filed_on, category, decision, reason))
    return sorted(units.values(), key=lambda u: (-u.count, u.code))


def by_unit_type(entries: list[UnitLedger]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.type] = totals.get(entry.type, 0) + entry.count
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def case_of_office(case_id: str, office_id: int) -> FiledCase:
    """The office's case, or not found (another office's case is not found either)."""
    case = by_text_id(FiledCase, case_id)
    if case is None or case.office_id != office_id:
        raise NotFoundError("找不到该案件")
    return case


@dataclasses.dataclass(frozen=True)
class UnitMatch:
    """A unit the case names: its reports of the child in the window (none: 应报未报), and the finding."""

    link: FiledCaseUnit
    unit: Unit
    reports: list[tuple[uuid.UUID, str, dt.datetime]]  # id, tracking number, submitted at
    # Reports of the unit in the window with the child's name but not the ID number: for a prosecutor to judge.
    candidates: list[tuple[uuid.UUID, str, dt.datetime]] = dataclasses.field(default_factory=list)

    @property
    def reported(self) -> bool:
        return bool(self.reports) or self.link.name_match == "same"


def matches(case: FiledCase) -> list[UnitMatch]:
    found: list[UnitMatch] = []
    for link in case.units:
        unit = db.session.get(Unit, link.unit_id)
        reports = [(rid, number, at) for rid, number, at in db.session.execute(
            select(Report.id, Report.tracking_no, Report.submitted_at).where(
                Report.unit_id == link.unit_id, Report.victim_id_bidx == case.victim_id_bidx,
                Report.training.is_(False), Report.submitted_at >= case.window_start,
                Report.submitted_at < case.window_end).order_by(Report.submitted_at))]
        candidates = []
        if not reports and case.victim_name_bidx is not None:
            candidates = [(rid, number, at) for rid, number, at in db.session.execute(
                select(Report.id, Report.tracking_no, Report.submitted_at).where(
                    Report.unit_id == link.unit_id, Report.victim_name_bidx == case.victim_name_bidx,
                    Report.training.is_(False), Report.submitted_at >= case.window_start,
                    Report.submitted_at < case.window_end).order_by(Report.submitted_at))]
        if unit is not None:
            found.append(UnitMatch(link, unit, reports, candidates))
    return found


def other_reports(case: FiledCase) -> list[tuple[uuid.UUID, str, dt.datetime, str | None]]:
    """Every report of the office about the same child (any unit or none, any time): context for the prosecutor."""
    return [(rid, number, at, name) for rid, number, at, name in db.session.execute(
        select(Report.id, Report.tracking_no, Report.submitted_at, Unit.name)
        .outerjoin(Unit, Unit.id == Report.unit_id)
        .where(Report.office_id == case.office_id, Report.victim_id_bidx == case.victim_id_bidx,
               Report.training.is_(False)).order_by(Report.submitted_at).limit(50))]


def recent_cases(office_id: int, limit: int = 100) -> list[FiledCase]:
    return list(db.session.scalars(select(FiledCase).where(FiledCase.office_id == office_id)
                                   .order_by(FiledCase.filed_on.desc(), FiledCase.case_no).limit(limit)))


def recommendations_by_unit(office_id: int) -> dict[int, list[Recommendation]]:
    """Each unit's 检察建议, newest first."""
    found: dict[int, list[Recommendation]] = {}
    for made in db.session.scalars(select(Recommendation).where(Recommendation.office_id == office_id)
                                   .order_by(Recommendation.sent_at.desc())):
        found.setdefault(made.unit_id, []).append(made)
    return found


def recommendation_of_office(recommendation_id: str, office_id: int) -> Recommendation:
    made = by_text_id(Recommendation, recommendation_id)
    if made is None or made.office_id != office_id:
        raise NotFoundError("找不到该检察建议")
    return made


def unit_of_office(code: str, office_id: int) -> Unit:
    unit = db.session.scalars(select(Unit).where(Unit.code == code[:64], Unit.office_id == office_id)).one_or_none()
    if unit is None:
        raise NotFoundError("找不到该成员单位")
    return unit
