"""A unit liaison's statistics (their unit only, the small-cell rule), training reports in no figure, and the case
register: step-up, an audit entry, a confidentiality header, personal columns decrypted, streamed in chunks."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.reports.records import Transfer
from app.stats import presenters
from app.stats.xlsx import CONFIDENTIAL
from tests.auth.conftest import login
from tests.factories import create_report, create_staff, exported
from tests.review.detail_helpers import Person, age_step_up, step_up
from tests.stats.seed import PERIOD, add_practice_reports, category_counts, cst, db_counts, seed
from tests.stats.test_stats_page import STAT, logged_in, stats_of


@pytest.fixture
def seeded(app):
    return seed()


def test_a_liaison_sees_only_their_units_figures(app, seeded):
    liaison = create_staff(role="unit_liaison", unit=seeded.units["A"])
    db.session.commit()
    shown = stats_of(logged_in(app, liaison), "/review/unit-stats")
    assert {k: int(v) for k, v in shown.items()} == db_counts(unit_id=seeded.units["A"].id)
    assert shown["received"] == "3"
    page = logged_in(app, liaison).get(f"/review/unit-stats?{PERIOD}").get_data(as_text=True)
    assert "实验小学" not in page
    assert "stats-b" not in page
    assert 'data-breakdown="by_unit"' not in page


def test_the_small_cell_rule_hides_counts_of_one_and_two_by_category(app, seeded):
    liaison = create_staff(role="unit_liaison", unit=seeded.units["A"])
    db.session.commit()
    client = logged_in(app, liaison)
    page = client.get(f"/review/unit-stats?{PERIOD}").get_data(as_text=True)
    # Unit A: abuse_injury 2 (R1, R6), abandonment 1 (R2): both small; their sum (3) does not pin them.
    assert category_counts(unit_id=seeded.units["A"].id) == {"abuse_injury": 2, "abandonment": 1}
    section = page.split('data-breakdown="by_category"')[1].split("</section>")[0]
    assert re.search(r"多处损伤/虐待</th><td[^>]*>&lt;3<", section)
    assert re.search(r"遗弃/无人照料</th><td[^>]*>&lt;3<", section)
    assert ">1<" not in section
    assert ">2<" not in section
    assert 'data-field="small_cell_rule"' in page
    book = load_workbook(io.BytesIO(exported(client, f"/review/unit-stats.xlsx?{PERIOD}").data), read_only=True)
    cells = {row[0]: row[1] for row in book["按类别"].iter_rows(min_row=3, values_only=True) if row[0]}
    assert cells["多处损伤/虐待"] == "<3"
    assert cells["遗弃/无人照料"] == "<3"


@pytest.mark.parametrize(("cells", "shown"), [
    ({"a": 5, "b": 0}, {"a": "5", "b": "0"}),
    ({"a": 2, "b": 7, "c": 4}, {"a": "<3", "b": "7", "c": "*"}),  # one hidden cell: the next smallest goes too
    ({"a": 1, "b": 2, "c": 9}, {"a": "<3", "b": "<3", "c": "9"}),  # 1+2=3: two ways, nothing pinned
    ({"a": 2, "b": 2, "c": 9}, {"a": "<3", "b": "<3", "c": "*"}),  # 2+2=4 pins both at 2
    ({"a": 1, "b": 1, "c": 3}, None),  # 1+1 pins both; hiding the 3 too still pins 1+1+3: withheld
    ({"a": 1, "b": 1, "c": 4}, {"a": "<3", "b": "<3", "c": "*"}),  # 1+1+4 also fits 2+1+3: hidden
    ({"a": 2, "b": 0}, None),  # a lone small cell and nothing to hide it with: the breakdown is withheld
])
def test_the_small_cell_rule_leaves_no_hidden_value_derivable(cells, shown):
    assert presenters.small_cells(cells) == shown


def test_training_reports_count_in_no_figure(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    before = stats_of(client)
    at = cst(2025, 9, 1, 10, 0)
    practice = add_practice_reports(seeded)
    transfers = db.session.scalars(select(Transfer).where(Transfer.report_id.in_([r.id for r in practice]))).all()
    assert len(transfers) == 3
    assert all(t.training for t in transfers)  # the flag travels with each transfer
    assert stats_of(client) == before
    counted_anyway = db_counts(training=True)  # what the figures would be if practice reports counted
    assert all(counted_anyway[name] != int(before[name])
               for name in ("received", "acknowledged", "transferred", "not_filed", "silent_units"))
    assert dict(STAT.findall(client.get(f"/review/stats/meeting?{PERIOD}").get_data(as_text=True))) == before
    book = load_workbook(io.BytesIO(exported(client, f"/review/stats.xlsx?{PERIOD}").data), read_only=True)
    summary = {row[1]: str(row[2]) for row in book["概况"].iter_rows(min_row=3, values_only=True) if row[1]}
    assert {name: summary[name] for name in before} == before
    liaison = create_staff(role="unit_liaison", unit=seeded.units["C"])
    db.session.commit()
    own = stats_of(logged_in(app, liaison), "/review/unit-stats")
    assert (own["received"], own["transferred"], own["silent_units"]) == ("0", "0", "1")
    who = Person(client, seeded.prosecutor)
    assert step_up(who, f"/review/register.xlsx?{PERIOD}").status_code == 303
    register = load_workbook(io.BytesIO(exported(who.client, f"/review/register.xlsx?{PERIOD}").data),
                             read_only=True)["台账"]
    listed = {row[0] for row in register.iter_rows(min_row=4, values_only=True)}
    assert listed.isdisjoint({r.tracking_no for r in practice})
    assert len(listed) == int(before["received"])
    real = create_report(status="new", unit=seeded.units["C"], now=at)
    assert not real.training
    assert int(stats_of(client)["received"]) == int(before["received"]) + 1


def register_of(who: Person, query: str = PERIOD):
    return who.client.get(f"/review/register.xlsx?{query}")


def test_the_register_needs_a_recent_second_factor_then_is_audited_and_confidential(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    who = Person(client, seeded.prosecutor)
    age_step_up(who)
    answer = register_of(who)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/step-up?next=")
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.register_export")).all() == []

    from app.offices.models import OfficeDistrict

    db.session.add(OfficeDistrict(code=seeded.reports["R3"].district_code, name="西湖区", office_id=1))
    db.session.commit()
    assert step_up(who, f"/review/register.xlsx?{PERIOD}").status_code == 303
    answer = exported(who.client, f"/review/register.xlsx?{PERIOD}")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.is_streamed
    book = load_workbook(io.BytesIO(answer.data))
    sheet = book["台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == CONFIDENTIAL
    assert CONFIDENTIAL in sheet.oddHeader.center.text
    assert CONFIDENTIAL in sheet.oddFooter.center.text
    head = rows[2]
    assert head[-3:] == ("被害人姓名", "报告人姓名", "报告人电话")
    body = rows[3:]
    assert len(body) == int(db_counts()["received"])
    tracking = {r[0] for r in body}
    assert seeded.reports["R3"].tracking_no in tracking
    assert seeded.reports["before"].tracking_no not in tracking
    assert seeded.reports["other_office"].tracking_no not in tracking
    r3 = next(r for r in body if r[0] == seeded.reports["R3"].tracking_no)
    assert r3[-3:] == ("小花", "王医生", "13800000000")
    assert r3[11] == "城北派出所"
    assert r3[12] == "受案调查"
    assert r3[13] == "A1"  # the police 案号, sealed in the database, opened for the register
    assert head[7] == "区划"
    assert r3[7] == "西湖区"  # a district by the name the office gave it
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.register_export")).all()
    assert len(entries) == 1
    assert entries[0].actor_id == seeded.prosecutor.id
    assert entries[0].target_id == "2025-01-01..2025-12-31"


def test_the_register_is_written_in_chunks_of_rows_with_its_progress(app, seeded, monkeypatch):
    from app.exports import kinds
    from app.stats import queries

    monkeypatch.setattr(queries, "REGISTER_CHUNK", 3)
    reported: list[tuple[int, int | None]] = []
    actor = Actor.staff(seeded.prosecutor)
    work = kinds.Work(actor=actor, params={"from": "2025-01-01", "to": "2025-12-31"},
                      requested_at=dt.datetime.now(dt.UTC), vault=get_vault(),
                      progress=lambda done, total: reported.append((done, total)))
    chunks = list(kinds.of("register").write(work))
    assert reported == [(3, 8), (6, 8), (8, 8)]  # after each chunk of rows read, of the period's eight
    assert len(chunks) > 3  # one per chunk of rows read, then the workbook in pieces
    assert len(list(load_workbook(io.BytesIO(b"".join(chunks)), read_only=True)["台账"].iter_rows())) == 3 + 8


def test_meeting_and_stats_pages_match(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    page = client.get(f"/review/stats/meeting?{PERIOD}").get_data(as_text=True)
    assert dict(STAT.findall(page)) == stats_of(client)
    assert login  # the login helper stays the one of tests/auth
