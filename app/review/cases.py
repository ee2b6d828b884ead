"""``/review/cases/*`` and ``/review/unreported``: filed cases imported for 倒查, each case with the reports that
match it, and the 应报未报 ledger (CONTRACT.md "Filed cases and 应报未报"). Views attach to ``review.bp``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.audit import service as audit
from app.auth.guard import current_actor, current_office_id, staff_required
from app.cases import queries, service
from app.cases.schemas import CST, LABELS
from app.core.db import transactional
from app.core.periods import parse_period
from app.crypto.vault import get_vault
from app.errors import NotFoundError, ValidationError
from app.offices import queries as offices
from app.reports.constants import CATEGORY_SHORT
from app.review import queries as review_queries
from app.review.routes import bp
from app.units.models import UNIT_TYPES

DECISION_LABELS = {"confirmed": "已确认应报未报", "excused": "已排除"}



def _import_page(*, errors: dict[str, list[str]] | None = None, problems: list[service.RowProblem] | None = None,
                 message: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template("review/cases_import.html", errors=errors or {}, problems=problems or [],
                           message=message, labels=LABELS), status


@bp.get("/cases/import")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("review.cases")
def cases_import_form() -> ResponseReturnValue:
    return _import_page()


@bp.post("/cases/import")
@transactional
@staff_required("review.cases.import", holds=False)
def cases_import() -> ResponseReturnValue:
    """Upload a filed-case list: the whole file is checked first; any bad row and nothing is stored."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationError(fields={"file": ["请选择要导入的 .xlsx 或 .csv 文件"]})
        if Path(upload.filename).suffix.lower() not in service.SUFFIXES:
            raise ValidationError(fields={"file": ["只能导入 .xlsx 或 .csv 文件"]})
        data = upload.stream.read(service.MAX_BYTES + 1)
        if len(data) > service.MAX_BYTES:
            raise ValidationError(fields={"file": [f"文件不能超过 {service.MAX_BYTES // 1024 // 1024} MB，请分批导入"]})
        result = service.import_rows(service.read_file(data, upload.filename), office_id=current_office_id(),
                                     actor=current_actor(), now=dt.datetime.now(dt.UTC), vault=get_vault())
    except service.CasesRejected as exc:
        return _import_page(problems=exc.problems, message=exc.message, status=422)
    except ValidationError as exc:
        return _import_page(errors=exc.fields or {"file": [exc.message]}, status=422)
    return redirect(url_for("review.cases_list", created=result.created, updated=result.updated), code=303)


@bp.get("/cases")
@transactional(writes=True)
@staff_required("review.cases")
def cases_list() -> ResponseReturnValue:
    """The office's filed cases, newest filing first; after an import, how many were new and updated."""
    done = {key: request.args.get(key, type=int) for key in ("created", "updated")}
    return render_template("review/cases.html", cases=queries.recent_cases(current_office_id()), done=done,
                           short=CATEGORY_SHORT)


@bp.get("/cases/<case_id>")
@transactional(writes=True)
@staff_required("review.cases")
def case_detail(case_id: str) -> ResponseReturnValue:
    """One case: its facts (the victim's name and ID number opened for the prosecutor), each unit it names with
    the unit's reports of the child in the window, or the finding form where there is none."""
    case = queries.case_of_office(case_id, current_office_id())
    return _case_page(case)


def _case_page(case: queries.FiledCase, *, errors: dict[str, list[str]] | None = None, unit_id: int | None = None,
               status: int = 200) -> ResponseReturnValue:
    victim = case.unseal("victim_data") or {}
    return render_template(
        "review/case.html", case=case, victim=victim, place=case.unseal("place_data"),
        matches=queries.matches(case), others=queries.other_reports(case), short=CATEGORY_SHORT,
        unit_types=UNIT_TYPES, decisions=DECISION_LABELS, errors=errors or {}, error_unit=unit_id,
        values=request.form if errors else {},
    ), status


@bp.post("/cases/<case_id>/units/<unit_id>/finding")
@transactional
@staff_required("review.cases")
def case_finding(case_id: str, unit_id: str) -> ResponseReturnValue:
    """Confirm a unit's 应报未报 on this case, or excuse it with a reason."""
    case = queries.case_of_office(case_id, current_office_id())
    match = next((m for m in queries.matches(case) if str(m.unit.id) == unit_id), None)
    if match is None:
        raise NotFoundError("该案件未列出这个单位")
    if match.reported:
        return _case_page(case, errors={"decision": ["该单位已报告此案，无需认定"]}, unit_id=match.unit.id, status=409)
    reason = (request.form.get("reason") or "").strip()[:200] or None
    try:
        service.decide(case, match.link, request.form.get("decision", ""), reason, actor=current_actor(),
                       now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        return _case_page(case, errors=exc.fields or {"decision": [exc.message]}, unit_id=match.unit.id, status=422)
    return redirect(url_for("review.case_detail", case_id=case.id, done="finding") + f"#unit-{match.unit.id}",
                    code=303)


@bp.get("/unreported")
@transactional(writes=True)
@staff_required("review.cases")
def unreported() -> ResponseReturnValue:
    """The 应报未报 ledger: per member unit, the period's filed cases naming it that it did not report."""
    period, errors = parse_period(request.args)
    unit_type = request.args.get("unit_type") or None
    if unit_type is not None and unit_type not in UNIT_TYPES:
        errors["unit_type"], unit_type = ["不是可选的单位类型"], None
    district = request.args.get("district") or None
    known = offices.district_names()
    names = {d.code: offices.district_label(d.code, known) for d in offices.districts()}
    if district is not None and district not in names:
        errors["district"], district = ["不是本院的行政区划"], None
    entries = queries.ledger(current_office_id(), period.first, period.last, unit_type=unit_type, district=district)
    return render_template(
        "review/unreported.html", entries=entries, period=period, errors=errors, unit_types=UNIT_TYPES,
        districts=names, chosen={"unit_type": unit_type or "", "district": district or ""},
        by_type=queries.by_unit_type(entries), total=sum(e.count for e in entries), short=CATEGORY_SHORT,
        decisions=DECISION_LABELS, recommendations=queries.recommendations_by_unit(current_office_id()),
    ), 400 if errors else 200


@bp.get("/supervision")
@transactional(writes=True)
@staff_required("review.cases")
def supervision() -> ResponseReturnValue:
    """立案监督 candidates: transfers the police declined, or left without a case past the feedback deadline."""
    now = dt.datetime.now(dt.UTC)
    return render_template("review/supervision.html", found=review_queries.supervision_candidates(
        current_actor(), now=now), kinds=review_queries.SUPERVISION_KINDS, now=now)


def _unit_findings(unit_code: str, first: dt.date, last: dt.date) -> tuple[Any, list[queries.Finding], int]:
    office_id = current_office_id()
    unit = queries.unit_of_office(unit_code, office_id)
    entry = next((e for e in queries.ledger(office_id, first, last) if e.unit_id == unit.id), None)
    return unit, (entry.findings if entry else []), (entry.confirmed if entry else 0)


@bp.get("/unreported/<unit_code>/recommendation")
@transactional(writes=True)  # showing the children's names is audited
@staff_required("review.cases")
def recommendation_draft(unit_code: str) -> ResponseReturnValue:
    """A printable A4 draft of a 检察建议 to one unit over its 应报未报 of the period: counts and dates, no child's
    name unless the prosecutor asks for them (``names=1``, audited)."""
    period, _errors = parse_period(request.args)
    unit, findings, confirmed = _unit_findings(unit_code, period.first, period.last)
    names = request.args.get("names") == "1"
    victim_names: dict[Any, str | None] = {}
    if names:
        for finding in findings:
            case = queries.case_of_office(str(finding.case_id), current_office_id())
            victim_names[finding.case_id] = (case.unseal("victim_data") or {}).get("name")
        audit.record(current_actor(), "cases.recommendation.names", now=dt.datetime.now(dt.UTC), target_type="unit",
                     target_id=unit.code, office_id=current_office_id())
    office = offices.office_of(current_office_id())
    return render_template(
        "review/recommendation.html", unit=unit, findings=findings, confirmed=confirmed, period=period,
        names=names, victim_names=victim_names, short=CATEGORY_SHORT, decisions=DECISION_LABELS, office=office,
        date=dt.datetime.now(CST).strftime("%Y年%m月%d日"),
    )


@bp.post("/unreported/<unit_code>/recommendations")
@transactional
@staff_required("review.cases")
def recommendation_sent(unit_code: str) -> ResponseReturnValue:
    """Record that the 检察建议 to this unit over the period was sent."""
    period, errors = parse_period(request.form)
    if errors:
        raise ValidationError(fields=errors)
    unit, findings, _confirmed = _unit_findings(unit_code, period.first, period.last)
    service.record_sent(current_office_id(), unit, period.first, period.last, len(findings), actor=current_actor(),
                        now=dt.datetime.now(dt.UTC))
    flash(f"已登记向{unit.name}发出检察建议", "done")
    return redirect(_ledger_url(period.first, period.last) + f"#unit-{unit.code}", code=303)


@bp.post("/recommendations/<recommendation_id>/answered")
@transactional
@staff_required("review.cases")
def recommendation_answered(recommendation_id: str) -> ResponseReturnValue:
    """Record that the unit answered a 检察建议."""
    made = queries.recommendation_of_office(recommendation_id, current_office_id())
    service.record_answered(made, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    flash("已登记该单位的书面回复", "done")
    return redirect(_ledger_url(made.period_first, made.period_last), code=303)


def _ledger_url(first: dt.date, last: dt.date) -> str:
    return f"{url_for('review.unreported')}?{urlencode({'from': first.isoformat(), 'to': last.isoformat()})}"


@bp.post("/cases/<case_id>/units/<unit_id>/name-match")
@transactional
@staff_required("review.cases")
def case_name_match(case_id: str, unit_id: str) -> ResponseReturnValue:
    """Judge a report of the unit that names the child without the ID number: the same child, or not."""
    case = queries.case_of_office(case_id, current_office_id())
    match = next((m for m in queries.matches(case) if str(m.unit.id) == unit_id), None)
    report = next((c for c in (match.candidates if match else []) if str(c[0]) == request.form.get("report_id")),
                  None)
    if match is None or report is None:
        raise NotFoundError("找不到该候选报告")
    same = request.form.get("same")
    if same not in ("yes", "no"):
        raise ValidationError(fields={"same": ["请选择是否为同一名被害人"]})
    service.judge_name_match(case, match.link, report[0], same == "yes", actor=current_actor(),
                             now=dt.datetime.now(dt.UTC))
    return redirect(url_for("review.case_detail", case_id=case.id, done="name_match") + f"#unit-{match.unit.id}",
                    code=303)
