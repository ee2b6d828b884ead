"""Filed cases and 应报未报 (CONTRACT.md): a filed-case list is checked whole and stored sealed, re-imported by case
number, matched to the reports of the units it names through the victim ID number's blind index, and counted on
the ledger and the statistics page; a prosecutor confirms or excuses each finding."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from flask import g
from openpyxl import Workbook
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.cases.models import FiledCase, FiledCaseUnit
from app.extensions import db
from tests.auth.conftest import csrf_of
from tests.factories import create_report, create_unit, exported, valid_id_number
from tests.review.detail_helpers import Cast, a_minute_passes, age_step_up, make_cast, step_up

crew = pytest.fixture(make_cast)
CST = dt.timezone(dt.timedelta(hours=8))
HEADER = "case_no,filed_at,category,victim_id_no,victim_name,victim_age,place,units"
NAME_MARKER = "倒查标记姓名甲"
PLACE_MARKER = "倒查标记地点乙街"


def today() -> dt.date:
    return dt.datetime.now(CST).date()


def child_id(serial: str) -> str:
    born = today().replace(year=today().year - 10) - dt.timedelta(days=40)
    return valid_id_number(born, serial=serial)


def csv_file(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def report_of(unit, id_number: str, *, days_before: float, training: bool = False):
    """A unit's report of the child, submitted ``days_before`` days before now."""
    born = dt.date.fromisoformat(f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}")
    age = today().year - born.year - ((today().month, today().day) < (born.month, born.day))
    return create_report(unit=unit, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_before),
                         victim={"id_number": id_number, "age": age}, training=training)


def import_cli(app, tmp_path, data: bytes, name: str = "cases.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return app.test_cli_runner().invoke(args=["cases", "import", str(path)])


def upload(who, data: bytes, name: str = "cases.csv"):
    g.pop("csrf_token", None)
    token = csrf_of(who.client, "/review/cases/import")
    return who.client.post("/review/cases/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")


def counts_on_ledger(client, query: str = "") -> dict[str, int]:
    page = client.get(f"/review/unreported{query}").get_data(as_text=True)
    return {code: int(n) for code, n in re.findall(r'data-unit-code="([^"]+)" data-unreported-count="(\d+)"', page)}


@pytest.fixture
def units(app):
    hospital = create_unit("hosp-a", name="城关医院", type="hospital")
    school = create_unit("school-b", name="实验小学", type="school")
    hotel = create_unit("hotel-c", name="如家宾馆", type="hotel")
    db.session.commit()
    return hospital, school, hotel


def test_the_cli_imports_a_list_sealed_and_a_second_import_of_a_case_number_updates_it(app, tmp_path, units):
    filed = today() - dt.timedelta(days=3)
    data = csv_file(
        f"公(2026)001,{filed},abuse_injury,{child_id('101')},{NAME_MARKER},10,{PLACE_MARKER},hosp-a;实验小学",
        f"公(2026)002,{filed},,{child_id('102')},,,,")
    result = import_cli(app, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert "cases: imported 2 cases (2 new, 0 updated)" in result.output
    case = db.session.scalars(select(FiledCase).where(FiledCase.case_no == "公(2026)001")).one()
    assert {link.unit_id for link in case.units} == {units[0].id, units[1].id}
    assert case.unseal("victim_data") == {"id_number": child_id("101"), "name": NAME_MARKER}
    raw = " ".join(str(row) for row in db.session.execute(text("SELECT * FROM filed_cases")).all())
    for marker in (NAME_MARKER, PLACE_MARKER, child_id("101")):
        assert marker not in raw

    again = import_cli(app, tmp_path, csv_file(f"公(2026)001,{filed},abuse_injury,{child_id('101')},,10,,如家宾馆"))
    assert again.exit_code == 0, again.output
    assert "(0 new, 1 updated)" in again.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(FiledCase)) == 2
    case = db.session.scalars(select(FiledCase).where(FiledCase.case_no == "公(2026)001")).one()
    assert [link.unit_id for link in case.units] == [units[2].id]
    assert [a for (a,) in db.session.execute(select(AuditEntry.action))].count("cases.import") == 2


@pytest.mark.parametrize(("row", "named"), [
    ("X-1,2026-02-30,abuse_injury,{id},,,,hosp-a", "立案日期"),
    ("X-1,{future},abuse_injury,{id},,,,hosp-a", "立案日期"),
    ("X-1,{day},no_such_category,{id},,,,hosp-a", "案件类别"),
    ("X-1,{day},abuse_injury,110101201001011234,,,,hosp-a", "被害人身份证号码"),
    ("X-1,{day},abuse_injury,{id},,19,,hosp-a", "被害人年龄"),
    ("X-1,{day},abuse_injury,{id},,,,no-such-unit", "接触过被害人的成员单位"),
    (",{day},abuse_injury,{id},,,,hosp-a", "案件编号"),
], ids=["impossible-date", "future-date", "unknown-category", "bad-check-digit", "adult-age", "unknown-unit",
        "no-case-number"])
def test_any_bad_row_stores_nothing_and_is_named_with_its_reason(app, tmp_path, units, row, named):
    good = f"OK-1,{today()},abuse_injury,{child_id('201')},,,,hosp-a"
    bad = row.format(id=child_id("202"), day=today(), future=today() + dt.timedelta(days=2))
    result = import_cli(app, tmp_path, csv_file(good, bad))
    assert result.exit_code != 0
    assert f"第3行「{named}」" in result.output, result.output
    assert "未导入任何案件" in result.output
    assert db.session.scalar(select(func.count()).select_from(FiledCase)) == 0


def test_a_case_number_twice_in_one_file_and_a_wrong_header_are_refused(app, tmp_path, units):
    twice = import_cli(app, tmp_path, csv_file(f"D-1,{today()},,{child_id('301')},,,,",
                                               f"D-1,{today()},,{child_id('302')},,,,"))
    assert twice.exit_code != 0
    assert "第3行「案件编号」：与第2行的案件编号重复" in twice.output
    header = import_cli(app, tmp_path, b"case,filed_at\nA,2026-01-01\n")
    assert header.exit_code != 0
    assert "第1行" in header.output
    assert db.session.scalar(select(func.count()).select_from(FiledCase)) == 0


def test_a_unit_that_reported_the_child_in_the_window_is_not_counted_and_one_that_did_not_is(app, tmp_path, units,
                                                                                                crew: Cast):
    hospital, school, hotel = units
    reported, late, practice, elsewhere = child_id("401"), child_id("402"), child_id("403"), child_id("404")
    report_of(hospital, reported, days_before=5)          # in the window: reported
    report_of(hospital, late, days_before=40)             # 40 days before a filing 3 days ago: outside
    report_of(hospital, practice, days_before=5, training=True)  # a practice report never counts
    report_of(school, elsewhere, days_before=5)           # another unit's report does not excuse the hospital
    filed = today() - dt.timedelta(days=3)
    result = import_cli(app, tmp_path, csv_file(
        f"M-1,{filed},abuse_injury,{reported},,,,hosp-a;school-b",
        f"M-2,{filed},abuse_injury,{late},,,,hosp-a",
        f"M-3,{filed},sexual_assault_under_14,{practice},,,,hosp-a",
        f"M-4,{filed},abuse_injury,{elsewhere},,,,hosp-a;school-b;hotel-c",
    ))
    assert result.exit_code == 0, result.output

    ledger = counts_on_ledger(crew.prosecutor.client)
    assert ledger == {"hosp-a": 3, "school-b": 1, "hotel-c": 1}  # M-1 for the school; M-2, M-3, M-4 for the hospital
    stats = crew.prosecutor.client.get("/review/stats").get_data(as_text=True)
    assert re.search(r'data-stat="unreported">5<', stats)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(exported(crew.prosecutor.client, "/review/stats.xlsx").data), read_only=True)
    summary = {row[1]: row[2] for row in book["概况"].iter_rows(min_row=3, values_only=True) if row[1]}
    assert str(summary["unreported"]) == "5"
    assert counts_on_ledger(crew.prosecutor.client, "?unit_type=hotel") == {"hotel-c": 1}
    last_year = f"?from={today().year - 1}-01-01&to={today().year - 1}-12-31"
    assert counts_on_ledger(crew.prosecutor.client, last_year) == {}

    case = db.session.scalars(select(FiledCase).where(FiledCase.case_no == "M-1")).one()
    page = crew.prosecutor.client.get(f"/review/cases/{case.id}").get_data(as_text=True)
    assert 'data-unit-code="hosp-a" data-reported="yes"' in page
    assert 'data-unit-code="school-b" data-reported="no"' in page


def test_a_prosecutor_confirms_or_excuses_a_finding_and_an_excuse_needs_a_reason(app, tmp_path, units, crew: Cast):
    assert import_cli(app, tmp_path, csv_file(f"F-1,{today()},,{child_id('501')},,,,hosp-a;school-b")).exit_code == 0
    case = db.session.scalars(select(FiledCase)).one()
    path = f"/review/cases/{case.id}"
    client = crew.prosecutor.client

    def decide(unit, **form):
        g.pop("csrf_token", None)
        token = csrf_of(client, path)
        return client.post(f"{path}/units/{unit.id}/finding", data={"csrf_token": token, **form})

    refused = decide(units[1], decision="excused", reason="")
    assert refused.status_code == 422
    assert "排除时请写明理由" in refused.get_data(as_text=True)
    assert decide(units[0], decision="confirmed").status_code == 303
    assert decide(units[1], decision="excused", reason="接触时尚无可疑迹象").status_code == 303
    db.session.expire_all()
    decided = {link.unit_id: (link.decision, link.reason) for link in db.session.scalars(select(FiledCaseUnit))}
    assert decided == {units[0].id: ("confirmed", None), units[1].id: ("excused", "接触时尚无可疑迹象")}
    ledger = client.get("/review/unreported").get_data(as_text=True)
    assert "已确认 1 件" in ledger
    assert "已排除 1 件" in ledger
    actions = [a for (a,) in db.session.execute(select(AuditEntry.action))]
    assert {"cases.finding.confirmed", "cases.finding.excused"} <= set(actions)


def test_the_import_page_asks_for_a_fresh_code_then_imports_and_names_bad_rows(app, units, crew: Cast):
    who = crew.prosecutor
    age_step_up(who)
    asked = upload(who, csv_file(f"W-1,{today()},,{child_id('601')},,,,hosp-a"))
    assert (asked.status_code, asked.headers["Location"]) == (303, "/account/step-up?next=%2Freview%2Fcases%2Fimport")
    assert db.session.scalar(select(func.count()).select_from(FiledCase)) == 0
    a_minute_passes(who)
    assert step_up(who, "/review/cases/import").headers["Location"] == "/review/cases/import"

    bad = upload(who, csv_file(f"W-1,{today()},,{child_id('601')},,,,hosp-a", "W-2,not-a-date,,x,,,,"))
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert 'data-bad-row="3"' in body
    assert "未导入任何案件" in body
    assert db.session.scalar(select(func.count()).select_from(FiledCase)) == 0

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["W-1", today(), "abuse_injury", child_id("601"), None, 10, "=HYPERLINK(\"x\")", "城关医院"])
    buffer = io.BytesIO()
    book.save(buffer)
    done = upload(who, buffer.getvalue(), "cases.xlsx")
    assert (done.status_code, done.headers["Location"]) == (303, "/review/cases?created=1&updated=0")
    assert "新增 1 件" in who.client.get(done.headers["Location"]).get_data(as_text=True)
    assert counts_on_ledger(who.client) == {"hosp-a": 1}


def test_police_are_refused_and_another_offices_case_is_not_found(app, tmp_path, units, crew: Cast):
    assert import_cli(app, tmp_path, csv_file(f"P-1,{today()},,{child_id('701')},,,,hosp-a")).exit_code == 0
    case = db.session.scalars(select(FiledCase)).one()
    assert crew.police.client.get("/review/unreported").status_code == 403
    assert crew.police.client.get(f"/review/cases/{case.id}").status_code == 403
    assert crew.other_office.client.get(f"/review/cases/{case.id}").status_code == 404
    assert counts_on_ledger(crew.other_office.client) == {}
    assert crew.prosecutor.client.get("/review/cases/not-a-uuid").status_code == 404


def test_a_recommendation_is_drafted_without_names_unless_asked_and_tracked_as_sent_and_answered(app, tmp_path,
                                                                                                  units, crew: Cast):
    rows = [f"R-{n},{today()},abuse_injury,{child_id(f'8{n:02d}')},{NAME_MARKER}{n},,,hosp-a"
            for n in range(1, 4)]
    assert import_cli(app, tmp_path, csv_file(*rows)).exit_code == 0
    client = crew.prosecutor.client
    draft = client.get("/review/unreported/hosp-a/recommendation")
    assert draft.status_code == 200
    text_ = draft.get_data(as_text=True)
    assert 'data-findings="3"' in text_
    assert "未成年人保护法》第十一条" in text_
    assert "2020年5月" in text_
    assert NAME_MARKER not in text_
    named = client.get("/review/unreported/hosp-a/recommendation?names=1").get_data(as_text=True)
    assert f"{NAME_MARKER}1" in named
    assert client.get("/review/unreported/no-such-unit/recommendation").status_code == 404

    g.pop("csrf_token", None)
    token = csrf_of(client, "/review/unreported")
    sent = client.post("/review/unreported/hosp-a/recommendations",
                       data={"csrf_token": token, "from": f"{today().year}-01-01", "to": f"{today().year}-12-31"})
    assert sent.status_code == 303
    ledger = client.get("/review/unreported").get_data(as_text=True)
    made = re.search(r'data-recommendation="([^"]+)"', ledger).group(1)
    assert "尚未回复" in ledger
    answered = client.post(f"/review/recommendations/{made}/answered", data={"csrf_token": token})
    assert answered.status_code == 303
    assert "已书面回复" in client.get("/review/unreported").get_data(as_text=True)
    assert crew.other_office.client.post(f"/review/recommendations/{made}/answered",
                                         data={"csrf_token": token}).status_code in (400, 404)
    actions = [a for (a,) in db.session.execute(select(AuditEntry.action))]
    assert {"cases.recommendation.sent", "cases.recommendation.answered", "cases.recommendation.names"} <= set(actions)


def test_the_joint_meeting_view_shows_the_unreported_by_unit_type(app, tmp_path, units, crew: Cast):
    assert import_cli(app, tmp_path, csv_file(f"J-1,{today()},,{child_id('901')},,,,hosp-a;hotel-c",
                                              f"J-2,{today()},,{child_id('902')},,,,hotel-c")).exit_code == 0
    page = crew.prosecutor.client.get("/review/stats/meeting").get_data(as_text=True)
    section = page.split('data-breakdown="unreported_by_type"')[1].split("</section>")[0]
    assert "医院" in section
    assert "宾馆" in section or "酒店" in section
    assert re.search(r'data-stat="unreported">3<', page)


def test_a_report_with_the_childs_name_but_no_id_number_is_a_candidate_a_prosecutor_judges(app, tmp_path, units,
                                                                                            crew: Cast):
    hospital, school, _ = units
    create_report(unit=hospital, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
                  victim={"name": " 张 小 明 ", "id_number": None})   # spaces and all: the same name
    create_report(unit=school, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
                  victim={"name": "张小明", "id_number": None})
    assert import_cli(app, tmp_path, csv_file(
        f"N-1,{today()},,{child_id('951')},张小明,,,hosp-a;school-b")).exit_code == 0
    case = db.session.scalars(select(FiledCase)).one()
    client = crew.prosecutor.client
    assert counts_on_ledger(client) == {"hosp-a": 1, "school-b": 1}  # a candidate is not a match by itself
    page = client.get(f"/review/cases/{case.id}").get_data(as_text=True)
    assert page.count("data-candidate=") == 2

    def judge(unit, same: str):
        g.pop("csrf_token", None)
        token = csrf_of(client, f"/review/cases/{case.id}")
        form_page = client.get(f"/review/cases/{case.id}").get_data(as_text=True)
        section = form_page.split(f'id="unit-{unit.id}"')[1].split("</article>")[0]
        report_id = re.search(r'name="report_id" value="([^"]+)"', section).group(1)
        return client.post(f"/review/cases/{case.id}/units/{unit.id}/name-match",
                           data={"csrf_token": token, "report_id": report_id, "same": same})

    assert judge(hospital, "yes").status_code == 303
    assert judge(school, "no").status_code == 303
    assert counts_on_ledger(client) == {"school-b": 1}
    assert 'data-field="name_match"' in client.get(f"/review/cases/{case.id}").get_data(as_text=True)
    actions = {a for (a,) in db.session.execute(select(AuditEntry.action))}
    assert {"cases.name_match.same", "cases.name_match.different"} <= actions


def test_a_filed_case_imported_on_the_page_leaves_no_personal_marker_in_the_database_logs_or_urls(
        app, units, crew: Cast, backend_name, caplog, capfd):
    import logging

    from tests.test_no_plaintext import find_leaks, storage_bytes

    caplog.set_level(logging.DEBUG)
    name, place, case_no = "标记被害人丙" + backend_name, "标记案发地丁" + backend_name, "标记案号" + backend_name
    done = upload(crew.prosecutor, csv_file(f"{case_no},{today()},,{child_id('991')},{name},,{place},hosp-a"))
    assert done.status_code == 303
    case = db.session.scalars(select(FiledCase)).one()
    assert name in crew.prosecutor.client.get(f"/review/cases/{case.id}").get_data(as_text=True)
    db.session.remove()
    db.engine.dispose()
    out, err = capfd.readouterr()
    logs = "\n".join(logging.Formatter("%(message)s %(args)s").format(r) + repr(r.__dict__) for r in caplog.records)
    haystacks = {"database": storage_bytes(app, backend_name), "logs": (logs + out + err).encode("utf-8"),
                 "urls": done.headers["Location"].encode()}
    assert find_leaks(haystacks, [name, place, child_id("991")]) == []
