"""The filtered list as a workbook (``/review/inbox.xlsx``): the same reports as every page of the list, in its
order; a recent second factor first; one audit entry naming the conditions but never what was searched; every
typed text a text cell, never a formula; nothing sealed in it."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.review import listing
from tests.factories import create_report, create_unit, exported
from tests.review.detail_helpers import age_step_up, make_cast, step_up
from tests.review.test_case_list import walk

crew = pytest.fixture(make_cast)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def numbers(data: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(data), read_only=True)["线索列表"]
    return [row[0] for row in sheet.iter_rows(min_row=4, values_only=True)]


def exports() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.list_export")))


def test_the_export_holds_every_page_of_the_filtered_list_in_its_order(crew, monkeypatch):
    monkeypatch.setattr(listing, "PAGE", 2)
    hospital = create_unit(name="A医院")
    for i in range(7):
        create_report(unit=hospital if i % 2 else None, urgent=i == 3, status=("new", "reviewing")[i % 2])
    create_report(status="closed")
    client = crew.prosecutor.client
    for query in ("", "?sort=unit&dir=desc", "?status=reviewing&sort=deadline", "?status=closed"):
        shown, _ = walk(client, query)
        answer = exported(client, "/review/inbox.xlsx" + query)
        assert answer.mimetype == XLSX
        assert answer.headers["Cache-Control"] == "no-store"
        assert numbers(answer.data) == shown, query
    sheet = load_workbook(io.BytesIO(exported(client, "/review/inbox.xlsx?status=reviewing").data))["线索列表"]
    assert [c.value for c in sheet[3]][:4] == ["编号", "提交时间", "紧急", "类别"]
    assert "状态：初核中" in sheet["A2"].value


def test_the_export_asks_for_a_recent_second_factor_then_is_audited_without_the_search(crew):
    report = create_report()  # the factory's reporter phone: 13800000000
    age_step_up(crew.prosecutor)
    answer = crew.prosecutor.client.get("/review/inbox.xlsx?q=13800000000&urgent=1")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/step-up?next=")
    assert exports() == []
    assert step_up(crew.prosecutor, "/review/inbox.xlsx?q=13800000000").status_code == 303
    answer = exported(crew.prosecutor.client, "/review/inbox.xlsx?q=13800000000")
    assert numbers(answer.data) == [report.tracking_no]
    (entry,) = exports()
    assert entry.target_type == "inbox"
    assert entry.actor_id == crew.prosecutor.user.id
    assert "13800000000" not in (entry.target_id or "")
    assert entry.target_id == "q=*"


def test_a_typed_text_that_looks_like_a_formula_is_a_text_cell(crew):
    unit = create_unit(name='=HYPERLINK("http://x.example/","点击")')
    create_report(unit=unit)
    data = exported(crew.prosecutor.client, "/review/inbox.xlsx").data
    sheet = load_workbook(io.BytesIO(data))["线索列表"]
    cell = sheet.cell(row=4, column=5)
    assert cell.value == '=HYPERLINK("http://x.example/","点击")'
    assert cell.data_type == "s"
    assert b"<f>" not in data  # no formula anywhere in the package


def test_nothing_sealed_goes_into_the_export(crew):
    create_report(victim={"name": "欧阳娜娜"})  # the factory's reporter: 王医生, 13800000000
    data = exported(crew.prosecutor.client, "/review/inbox.xlsx").data
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        text = "".join(package.read(name).decode("utf-8", "replace") for name in package.namelist())
    for personal in ("欧阳", "王医生", "13800000000"):
        assert personal not in text


def test_the_export_link_is_on_the_list_for_those_who_may_export(crew):
    create_report()
    assert re.search(r'href="/review/inbox.xlsx\?sort=unit" data-field="export"',
                     crew.prosecutor.client.get("/review/?sort=unit").text)
    assert crew.police.client.get("/review/inbox.xlsx").status_code == 403
