"""Importing filed cases: the whole file checked first (any bad row and nothing is stored, each bad row named),
then each case created or, when its case number is known to the office, updated; and a prosecutor's finding on a
unit that did not report a case."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.audit import service as audit
from app.cases.models import DECISIONS, FiledCase, FiledCaseUnit, Recommendation
from app.cases.schemas import COLUMNS, CST, LABELS, OPTIONAL, UNIT_SEPARATORS, FiledCaseRowIn
from app.core import imports
from app.core.actor import Actor, ActorKind
from app.core.idcard import normalise_name
from app.crypto.vault import Vault
from app.errors import ValidationError, flatten_messages
from app.extensions import db
from app.units.models import Unit
from app.units.service import RowProblem

WINDOW_DAYS = 30  # a report this many days before the filing date, up to its end, counts (CONTRACT.md)
SUFFIXES = (".xlsx", ".csv")
MAX_BYTES = 5 * 1024 * 1024
ID_INDEX = "victim.id_number"  # the reports' own blind index purpose: a case meets a report on it
NAME_INDEX = "victim.name"  # the reports' name index: a report without the ID number is a candidate


class CasesRejected(ValidationError):
    """A file with bad rows: nothing was written; ``problems`` names every one of them."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"有{len({p.row for p in problems})}行有误，未导入任何案件；请改正后重新导入")
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Imported:
    created: int
    updated: int

    @property
    def summary(self) -> str:
        return f"imported {self.created + self.updated} cases ({self.created} new, {self.updated} updated)"


def window(filed_on: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants [start, end) in which a unit's report counts for a case filed on ``filed_on`` (China dates:
    from 30 days before the filing date to the end of it)."""
    start = dt.datetime.combine(filed_on - dt.timedelta(days=WINDOW_DAYS), dt.time(), tzinfo=CST)
    end = dt.datetime.combine(filed_on + dt.timedelta(days=1), dt.time(), tzinfo=CST)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def read_file(data: bytes, filename: str) -> list[imports.Row]:
    """The rows of a filed-case list (.xlsx, first sheet, or UTF-8 CSV) with CONTRACT.md's header row."""
    if Path(filename).suffix.lower() not in SUFFIXES:
        raise ValidationError("只能导入 .xlsx 或 .csv 文件")
    table = imports.read_table(data, filename, optional=OPTIONAL)
    problems = [RowProblem(1, None, f"不认识的列「{name}」（表头应为 {','.join(COLUMNS)}）")
                for name in table.headers if name not in COLUMNS]
    problems += [RowProblem(1, None, f"缺少列「{name}」（{LABELS[name]}）")
                 for name in COLUMNS if name not in table.headers]
    if problems:
        raise CasesRejected(problems)
    if not table.rows:
        raise ValidationError("文件中没有案件：表头下面至少要有一行")
    return table.rows


def _units_by_name(office_id: int) -> tuple[dict[str, int], dict[str, list[int]]]:
    codes: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for unit_id, code, name in db.session.execute(
            select(Unit.id, Unit.code, Unit.name).where(Unit.office_id == office_id)):
        codes[code] = unit_id
        names.setdefault(name, []).append(unit_id)
    return codes, names


def check_rows(rows: Iterable[imports.Row], *, office_id: int) -> list[tuple[int, dict[str, Any]]]:
    """Every row through ``FiledCaseRowIn``, case numbers unique in the file, each named unit one of the office's
    (by code, or by its exact name when no code matches and the name is one unit's). Nothing is written."""
    schema = FiledCaseRowIn()
    codes, names = _units_by_name(office_id)
    checked: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    first_row: dict[str, int] = {}
    for row in rows:
        try:
            data = schema.load(dict(row.data))
        except SchemaError as exc:
            for field, messages in flatten_messages(exc.messages).items():
                problems.append(RowProblem(row.number, None if field == "_schema" else field, "；".join(messages)))
            continue
        unit_ids: list[int] = []
        for token in (t.strip() for t in UNIT_SEPARATORS.split(data.pop("units") or "")):
            if not token:
                continue
            found = codes.get(token)
            if found is None and len(names.get(token, ())) == 1:
                found = names[token][0]
            if found is None:
                reason = ("有多个成员单位同名，请改填单位代码" if len(names.get(token, ())) > 1
                          else "不是本院的成员单位（请填写单位代码或单位全称）")
                problems.append(RowProblem(row.number, "units", f"「{token}」{reason}"))
            elif found not in unit_ids:
                unit_ids.append(found)
        if data["case_no"] in first_row:
            problems.append(RowProblem(row.number, "case_no", f"与第{first_row[data['case_no']]}行的案件编号重复"))
            continue
        first_row[data["case_no"]] = row.number
        checked.append((row.number, {**data, "unit_ids": unit_ids}))
    if problems:
        raise CasesRejected(sorted(problems, key=lambda p: p.row))
    return checked


def import_rows(rows: Iterable[imports.Row], *, office_id: int, actor: Actor, now: dt.datetime,
                vault: Vault) -> Imported:
    """Create or update the office's filed cases by case number, all rows or none; audited as one import."""
    checked = check_rows(rows, office_id=office_id)
    known = {case.case_no: case for case in db.session.scalars(select(FiledCase).where(
        FiledCase.office_id == office_id, FiledCase.case_no.in_([d["case_no"] for _, d in checked])))}
    created = updated = 0
    for _number, data in checked:
        case = known.get(data["case_no"])
        if case is None:
            case = FiledCase(id=uuid.uuid4(), office_id=office_id, case_no=data["case_no"],
                             data_key=vault.new_data_key(), imported_at=now)
            db.session.add(case)
            created += 1
        else:
            updated += 1
        _fill(case, data, now=now, vault=vault)
    db.session.flush()
    audit.record(actor, "cases.import", now=now, target_type="filed_cases", target_id=f"{created}+{updated}",
                 office_id=office_id)
    return Imported(created, updated)


def _fill(case: FiledCase, data: dict[str, Any], *, now: dt.datetime, vault: Vault) -> None:
    case.filed_on, case.category, case.victim_age = data["filed_at"], data["category"], data["victim_age"]
    case.window_start, case.window_end = window(data["filed_at"])
    case.seal("victim_data", {"id_number": data["victim_id_no"], "name": data["victim_name"]})
    case.place_data = None
    if data["place"]:
        case.seal("place_data", data["place"])
    case.victim_id_bidx = vault.blind_index(ID_INDEX, data["victim_id_no"])
    name = normalise_name(data["victim_name"] or "")
    case.victim_name_bidx = vault.blind_index(NAME_INDEX, name) if name else None
    case.updated_at = now
    kept = {link.unit_id: link for link in case.units}  # a finding stays while the list still names its unit
    case.units = [kept.get(unit_id) or FiledCaseUnit(unit_id=unit_id) for unit_id in data["unit_ids"]]


def decide(case: FiledCase, link: FiledCaseUnit, decision: str, reason: str | None, *, actor: Actor,
           now: dt.datetime) -> None:
    """A prosecutor's finding on a unit that did not report ``case``: confirmed, or excused with a reason."""
    if decision not in DECISIONS:
        raise ValidationError(fields={"decision": ["请选择：确认应报未报，或说明理由后排除"]})
    if decision == "excused" and not reason:
        raise ValidationError(fields={"reason": ["排除时请写明理由"]})
    link.decision, link.reason = decision, reason if decision == "excused" else None
    link.decided_by, link.decided_at = (actor.id if actor.kind == ActorKind.STAFF else None), now
    action = "cases.finding.confirmed" if decision == "confirmed" else "cases.finding.excused"
    audit.record(actor, action, now=now, target_type="filed_case", target_id=case.id, office_id=case.office_id)


def read_path(path: Path) -> list[imports.Row]:
    return read_file(path.read_bytes(), path.name)


def problem_text(problem: RowProblem) -> str:
    label = LABELS.get(problem.field or "", problem.field or "")
    return f"第{problem.row}行{f'「{label}」' if label else ''}：{problem.message}"


def record_sent(office_id: int, unit: Unit, first: dt.date, last: dt.date, findings: int, *, actor: Actor,
                now: dt.datetime) -> Recommendation:
    """A 检察建议 to ``unit`` over its 应报未报 of [first, last], sent now."""
    made = Recommendation(office_id=office_id, unit_id=unit.id, period_first=first, period_last=last,
                          findings=findings, sent_at=now, sent_by=actor.id if actor.kind == ActorKind.STAFF else None)
    db.session.add(made)
    db.session.flush()
    audit.record(actor, "cases.recommendation.sent", now=now, target_type="unit", target_id=unit.code,
                 office_id=office_id)
    return made


def record_answered(made: Recommendation, *, actor: Actor, now: dt.datetime) -> None:
    made.answered_at = made.answered_at or now
    audit.record(actor, "cases.recommendation.answered", now=now, target_type="recommendation", target_id=made.id,
                 office_id=made.office_id)


def judge_name_match(case: FiledCase, link: FiledCaseUnit, report_id: uuid.UUID, same: bool, *, actor: Actor,
                     now: dt.datetime) -> None:
    """A prosecutor's judgement on a report of the unit that names the child but carries no matching ID number:
    the same child (the unit reported the case) or not."""
    link.name_match, link.name_match_report_id = ("same" if same else "different"), report_id
    action = "cases.name_match.same" if same else "cases.name_match.different"
    audit.record(actor, action, now=now, target_type="filed_case", target_id=case.id, office_id=case.office_id)
