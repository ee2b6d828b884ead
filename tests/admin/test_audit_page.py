"""/admin/audit as its readers read it: zh-CN action names, people, reports and units by name; filters by person
and action (lists), report number and date; bad filters answered in zh-CN; the filtered log exported as .xlsx of
text cells behind step-up, the export itself audited; and every action the code records has a name."""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.admin import audit_entries
from app.admin.audit_labels import ACTION_LABELS
from app.audit import service as audit
from app.audit.models import AuditEntry
from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.offices.models import PoliceUnit
from app.reports.states import Action
from app.units import service as units
from tests.factories import create_office, create_report, create_staff, create_unit
from tests.factories import exported as export_of
from tests.review.detail_helpers import Person, age_step_up

ROW = re.compile(r'data-audit-seq="(\d+)" data-action="([^"]+)"')
CST = dt.timezone(dt.timedelta(hours=8))
MARCH = dt.datetime(2026, 3, 1, 9, 0, tzinfo=CST)
JUNE = dt.datetime(2026, 6, 1, 9, 0, tzinfo=CST)


def rows(html: str) -> list[tuple[int, str]]:
    return [(int(seq), action) for seq, action in ROW.findall(html)]


@pytest.fixture
def office_log(app, logged_in):
    """An administrator logged in, and entries of the office about a report, an account, a unit (whose name a
    spreadsheet would take for a formula) and a police unit, by a prosecutor, in March and June."""
    client, admin = logged_in("admin")
    prosecutor = create_staff("wang.jc", role="prosecutor", display_name="王检察官")
    colleague = create_staff("li.jc", role="prosecutor", display_name="李检察官")
    report = create_report(status="reviewing", commit=False)
    unit = create_unit("school-1", name="=HYPERLINK(\"http://x\",\"实验小学\")")
    police = PoliceUnit(code="pcs-audit", name="城东派出所", office_id=1)
    db.session.add(police)
    db.session.flush()
    liaison = units.add_liaison(unit, {"name": "联络人甲", "phone": "13800002222"}, actor=Actor.staff(admin),
                                now=MARCH, vault=get_vault())
    by = Actor.staff(prosecutor, ip="10.1.2.3", request_id="req-a")
    audit.record(by, "report.view", now=MARCH, target_type="report", target_id=report.id, office_id=1)
    audit.record(by, "report.reveal_reporter", now=MARCH, target_type="report", target_id=report.id, office_id=1)
    audit.record(Actor.staff(admin), "user.change_role", now=MARCH, target_type="staff_user",
                 target_id=colleague.id, office_id=1)
    audit.record(Actor.staff(admin), "unit.update", now=JUNE, target_type="unit", target_id=unit.code, office_id=1)
    audit.record(Actor.staff(admin), "police_unit.update", now=JUNE, target_type="police_unit", target_id=police.id,
                 office_id=1)
    audit.record(Actor.staff(colleague), "report.view", now=JUNE, target_type="report", target_id=report.id,
                 office_id=1)
    db.session.commit()
    return client, admin, report, liaison, prosecutor


def test_the_page_names_actions_people_reports_and_units_in_chinese(app, office_log):
    client, admin, report, liaison, prosecutor = office_log
    page = client.get("/admin/audit")
    assert page.status_code == 200
    html = page.text
    for shown in ("查看线索", "查看报告人身份", "更改账号角色", "修改成员单位", "修改公安机关", "添加单位联络人",
                  "王检察官", "wang.jc", "检察官", "李检察官（li.jc）", report.tracking_no, "城东派出所",
                  "实验小学", "的联络人", "10.1.2.3"):
        assert shown in html, shown
    # ids and codes are not what a reader is given
    for hidden in (str(report.id), str(prosecutor.id), str(liaison.id), ">report.view<", ">unit.update<"):
        assert hidden not in html, hidden
    assert "联络人甲" not in html  # a liaison's name is sealed: the log names their unit only


def test_the_person_and_action_filters_are_lists_of_the_office(app, office_log):
    client, *_ = office_log
    create_staff("north.admin", role="admin", office=create_office(), display_name="北区管理员")
    db.session.commit()
    html = client.get("/admin/audit").text
    actor_select = html[html.index('<select id="f-actor"'):html.index("</select>", html.index('id="f-actor"'))]
    assert '<option value="wang.jc">王检察官（wang.jc）</option>' in actor_select
    assert "north.admin" not in actor_select  # another office's people are not offered
    action_select = html[html.index('<select id="f-action"'):]
    assert '<optgroup label="线索">' in action_select
    assert '<option value="report.view">查看线索</option>' in action_select


def test_filters_by_person_action_report_number_and_date(app, office_log):
    client, admin, report, _, prosecutor = office_log
    by_person = rows(client.get("/admin/audit?actor=wang.jc").text)
    assert [a for _, a in by_person] == ["report.reveal_reporter", "report.view"]
    assert [a for _, a in rows(client.get("/admin/audit?action=report.view").text)] == ["report.view"] * 2
    number = report.tracking_no  # QZBG-<year>-<6 digits>
    year, digits = number.split("-")[1:]
    for typed in (number, number.lower(), digits, str(int(digits)), f"{year}-{digits}", f" {digits[:3]} {digits[3:]}"):
        found = rows(client.get("/admin/audit", query_string={"report": typed}).text)
        assert [a for _, a in found] == ["report.view", "report.reveal_reporter", "report.view"], typed
    assert rows(client.get("/admin/audit?report=999999").text) == []
    in_march = rows(client.get("/admin/audit?from=2026-03-01&to=2026-03-31").text)
    assert {a for _, a in in_march} == {"report.view", "report.reveal_reporter", "user.change_role",
                                        "unit.liaison.add"}
    both = rows(client.get(f"/admin/audit?actor=wang.jc&action=report.view&report={digits}&from=2026-03-01"
                           "&to=2026-03-01").text)
    assert [a for _, a in both] == ["report.view"]


def test_the_log_pages_back_in_hundreds(app, office_log, monkeypatch):
    client, *_ = office_log
    monkeypatch.setattr(audit_entries, "PAGE", 3)
    first = client.get("/admin/audit").text
    older = re.search(r'href="([^"]+)" data-link="older"', first)
    assert older
    second = rows(client.get(older.group(1).replace("&amp;", "&")).text)
    assert min(s for s, _ in rows(first)) > max(s for s, _ in second)


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"actor": "nobody"}, "actor", "请从列表中选择操作人"),
    ({"actor": "north.admin"}, "actor", "请从列表中选择操作人"),
    ({"action": "drop.tables"}, "action", "请从列表中选择操作"),
    ({"report": "QZBG-abc"}, "report", "请输入完整的线索编号"),
    ({"report": "<script>alert(1)</script>"}, "report", "请输入完整的线索编号"),
    ({"report": "1234567"}, "report", "请输入完整的线索编号"),
    ({"from": "not-a-date"}, "from", "日期格式应为 YYYY-MM-DD"),
    ({"to": "2026-02-30"}, "to", "日期格式应为 YYYY-MM-DD"),
    ({"from": "1899-12-31"}, "from", "日期应在 2000 年至 2100 年之间"),
    ({"from": "2026-06-01", "to": "2026-03-01"}, "from", "开始日期不能晚于结束日期"),
    ({"before": "x"}, None, "翻页位置无效"),
    ({"before": "-5"}, None, ""),
    ({"before": "9" * 40}, None, ""),
])
def test_a_bad_filter_is_answered_in_chinese_beside_its_field_and_lists_nothing(app, office_log, query, field,
                                                                                 message):
    client, *_ = office_log
    create_staff("north.admin", role="admin", office=create_office())
    db.session.commit()
    # the export takes every filter but the page position (``before``)
    for path in ("/admin/audit",) if "before" in query else ("/admin/audit", "/admin/audit.xlsx"):
        answer = client.get(path, query_string=query)
        assert answer.status_code == 400, path
        assert answer.mimetype == "text/html"
        assert "请修改下列项目后再提交" in answer.text
        assert message in answer.text
        if field:
            assert f'data-error-for="{field}"' in answer.text
        assert rows(answer.text) == []
    assert "<script>alert(1)</script>" not in answer.text
    exports = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).all()
    assert exports == []  # nothing was exported, so nothing is recorded as exported


def test_a_report_number_matching_too_many_reports_asks_for_more_digits(app, office_log, monkeypatch):
    client, _, report, *_ = office_log
    monkeypatch.setattr(audit_entries, "REPORT_CAP", 0)
    answer = client.get("/admin/audit", query_string={"report": report.tracking_no})
    assert answer.status_code == 400
    assert "请输入更完整的编号" in answer.text


def test_another_offices_entries_are_not_shown(app, office_log):
    client, *_ = office_log
    north = create_office()
    audit.record(Actor.system(), "offices.add", now=JUNE, target_type="office", target_id=north.code,
                 office_id=north.id)
    db.session.commit()
    assert "offices.add" not in {a for _, a in rows(client.get("/admin/audit").text)}


def test_the_page_and_the_export_need_a_recent_second_factor(app, office_log):
    client, admin, *_ = office_log
    age_step_up(Person(client, admin))
    for path in ("/admin/audit", "/admin/audit.xlsx?action=report.view"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["Location"].startswith("/account/step-up?next=")
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).all() == []


def test_other_roles_may_not_read_or_export_the_log(app, logged_in):
    for role in ("prosecutor", "lead", "police", "unit_liaison"):
        client, _ = logged_in(role)
        assert client.get("/admin/audit").status_code == 403, role
        assert client.get("/admin/audit.xlsx").status_code == 403, role


def test_the_export_is_the_filtered_log_as_text_cells_and_is_itself_audited(app, office_log):
    client, admin, report, *_ = office_log
    number, admin_id = report.tracking_no, admin.id
    answer = export_of(client, "/admin/audit.xlsx", query_string={"from": "2026-03-01", "to": "2026-06-30"})
    assert answer.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert answer.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(answer.data)).active
    cells = [cell for line in sheet.iter_rows() for cell in line if cell.value is not None]
    assert all(cell.data_type in ("s", "n") for cell in cells)  # text and the entry numbers; never a formula
    values = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert "审计日志" in values[0][0]
    assert "2026-03-01 至 2026-06-30" in values[0][0]
    assert values[1][:6] == ["序号", "时间（北京时间）", "操作人", "用户名", "角色", "操作"]
    body = values[2:]
    assert len(body) == 7  # March and June: the views, the reveal, the role change, the liaison, the two updates
    assert [line[0] for line in body] == sorted((line[0] for line in body), reverse=True)
    viewed = next(line for line in body if line[3] == "wang.jc" and line[6] == "report.view")
    assert viewed[2:10] == ["王检察官", "wang.jc", "检察官", "查看线索", "report.view", number, "10.1.2.3", "req-a"]
    formula_like = next(line for line in body if line[6] == "unit.update")
    assert formula_like[7].startswith('=HYPERLINK("http://x","实验小学")')
    unit_cell = next(c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"))
    assert unit_cell.data_type == "s"
    assert "联络人甲" not in str(values)
    exported = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert (exported.actor_id, exported.target_type, exported.target_id) == (admin_id, "audit_log",
                                                                          "2026-03-01..2026-06-30")
    assert audit.verify().ok
    page = client.get("/admin/audit?action=audit.export").text
    assert "导出审计日志" in page
    assert "审计日志（筛选：2026-03-01 至 2026-06-30）" in page


def test_the_export_takes_every_filter_but_the_page_position(app, office_log):
    client, *_ = office_log
    answer = export_of(client, "/admin/audit.xlsx", query_string={"actor": "wang.jc", "action": "report.view",
                                                                  "before": "1"})
    sheet = load_workbook(io.BytesIO(answer.data)).active
    body = [[cell.value for cell in line] for line in sheet.iter_rows(min_row=3)]
    assert [line[6] for line in body] == ["report.view"]
    exported = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert exported.target_id == "u=wang.jc;a=report.view"


# --- every action the code records has a name -----------------------------------------------------------------

APP = Path(__file__).resolve().parents[2] / "app"


def _recorded_actions() -> tuple[set[str], set[str]]:
    """(the literal action names passed to ``record``/``record_command``, the prefixes of f-string ones)."""
    literal, prefixes = set(), set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            index = {"record": 1, "record_command": 0}.get(name)
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                literal.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                prefixes.add(str(arg.values[0].value))
            elif isinstance(arg, ast.IfExp):
                literal.update(v.value for v in (arg.body, arg.orelse) if isinstance(v, ast.Constant))
    return literal, prefixes


def test_every_action_the_code_records_has_a_chinese_name():
    literal, prefixes = _recorded_actions()
    assert {"report.view", "user.create", "keys.rotate", "unit.reactivate", "audit.export"} <= literal
    assert literal - set(ACTION_LABELS) == set()
    assert prefixes == {"report.", "login.failed."}
    assert {f"report.{action.value}" for action in Action} <= set(ACTION_LABELS)
    stages = {call.args[3].value for call in ast.walk(ast.parse((APP / "auth" / "service.py").read_text()))
              if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_failure"
              and isinstance(call.args[3], ast.Constant)}
    assert stages
    assert {f"login.failed.{stage}" for stage in stages} <= set(ACTION_LABELS)
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in ACTION_LABELS.values())
