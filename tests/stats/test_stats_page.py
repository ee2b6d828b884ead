"""``/review/stats``: every headline figure equals a count made straight from the rows of a seeded office, on
CST period boundaries, for the office only; the workbook holds the page's numbers; access rules."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.stats import presenters
from app.stats.queries import HEADLINES
from tests.auth.conftest import login
from tests.factories import create_office, create_staff, exported
from tests.stats.seed import PERIOD, category_counts, db_counts, seed

STAT = re.compile(r'data-stat="(\w+)">([^<]*)<')


def logged_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 303
    return client


def stats_of(client, path="/review/stats", query=PERIOD) -> dict[str, str]:
    page = client.get(f"{path}?{query}")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return dict(STAT.findall(page.get_data(as_text=True)))


@pytest.fixture
def seeded(app):
    return seed()


def test_every_headline_figure_matches_a_count_made_in_the_database(app, seeded):
    shown = stats_of(logged_in(app, seeded.prosecutor))

    assert set(shown) == set(HEADLINES)
    expected = db_counts()
    assert {k: int(v) for k, v in shown.items()} == expected
    # The seed's own story, so that the comparison is not vacuous.
    assert expected == {"received": 8, "acknowledged": 7, "transferred": 3, "accepted": 1, "filed": 1,
                        "not_filed": 1, "supervised": 1, "closed": 2, "overdue": 3, "silent_units": 1,
                        "unreported": 0}


def test_the_period_runs_from_midnight_to_midnight_china_time(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    # Only the first second of 2025 (China time) is on 1 January; the report of 23:59:59 on 31 December 2024 is not.
    assert stats_of(client, query="from=2025-01-01&to=2025-01-01")["received"] == "1"
    assert stats_of(client, query="from=2024-12-31&to=2024-12-31")["received"] == "1"
    assert stats_of(client, query="from=2025-12-31&to=2025-12-31")["received"] == "1"
    assert stats_of(client, query="from=2026-01-01&to=2026-01-01")["received"] == "1"


def test_staff_of_another_office_see_none_of_these_reports(app, seeded):
    other = create_staff(role="prosecutor", office=create_office("east", "东区人民检察院", ("430300",)))
    db.session.commit()
    shown = stats_of(logged_in(app, other))
    assert shown["received"] == "0"
    assert shown["transferred"] == "0"
    assert shown["silent_units"] == "0"


def test_a_breakdown_by_category_unit_type_and_channel_shows_the_rows_counts(app, seeded):
    page = logged_in(app, seeded.prosecutor).get(f"/review/stats?{PERIOD}").get_data(as_text=True)
    counts = category_counts()
    assert counts == {"abuse_injury": 6, "abandonment": 2, "missing_or_trafficked": 1}
    section = page.split('data-breakdown="by_category"')[1].split("</section>")[0]
    assert re.search(r"多处损伤/虐待</th><td[^>]*>6<", section)
    assert re.search(r"遗弃/无人照料</th><td[^>]*>2<", section)
    units = page.split('data-breakdown="by_unit"')[1].split("</section>")[0]
    assert re.search(r"实验小学</th><td[^>]*>stats-b</td><td[^>]*>4<", units)
    silent = page.split('data-breakdown="silent_units"')[1].split("</section>")[0]
    assert "阳光幼儿园" in silent
    assert "已撤销诊所" not in silent
    assert "市第一医院" not in silent
    assert "<svg" in page
    assert "<script" not in page
    assert "style=" not in page


def test_median_and_90th_percentile_times_follow_percentile_cont(app, seeded):
    from app.stats import queries

    period, _ = presenters.parse_period({"from": "2025-01-01", "to": "2025-12-31"})
    figures = queries.figures(queries.Scope(1), period, now=dt.datetime.now(dt.UTC))
    # Acknowledged in 2025: R2 2 h, R3 1 h, R4 and R5 0.5 h, R6 26 h, "first" and "before" 10 min ("before" was
    # received in 2024 but acknowledged in 2025; "last" is acknowledged in 2026).
    ack = figures.time_to_acknowledge
    assert ack.cases == 7
    assert ack.median_h == pytest.approx(0.5)
    assert ack.p90_h == pytest.approx(2 + (26 - 2) * 0.4)
    transfer = figures.time_to_transfer  # 5 h (R3), 13 h (R4), 2 h (R5)
    assert (transfer.cases, transfer.median_h, transfer.p90_h) == (3, pytest.approx(5.0), pytest.approx(11.4))
    feedback = figures.time_to_feedback  # 24 h, 48 h, 96 h after the transfer
    assert feedback.median_h == pytest.approx(48.0)
    assert figures.transfer_rate == pytest.approx(3 / 8)


def test_the_workbook_holds_the_pages_numbers(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    shown = stats_of(client)
    answer = exported(client, f"/review/stats.xlsx?{PERIOD}")
    assert answer.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(answer.data), read_only=True)
    summary = {row[1]: row[2] for row in book["概况"].iter_rows(values_only=True) if len(row) >= 3 and row[1]}
    assert {name: str(summary[name]) for name in HEADLINES} == shown
    sheets = {"按月份", "按类别", "按单位类型", "按成员单位", "按区划", "按渠道", "办理用时", "本期未报告的成员单位"}
    assert sheets <= set(book.sheetnames)
    categories = {row[0]: row[1] for row in book["按类别"].iter_rows(min_row=3, values_only=True)}
    assert categories["多处损伤/虐待"] == 6  # a number cell: SUM adds it
    months = {row[0]: row[1] for row in book["按月份"].iter_rows(min_row=3, values_only=True)}
    assert sum(months.values()) == int(shown["received"])
    assert len(months) == 12


@pytest.mark.parametrize("query", ["from=2025-13-01", "from=abc&to=2025-01-01", "from=2025-05-01&to=2025-04-01",
                                   "from=1900-01-01", "to=2025-02-30"])
def test_a_bad_period_is_a_clear_error_never_a_500(app, seeded, query):
    client = logged_in(app, seeded.prosecutor)
    for path in ("/review/stats", "/review/stats.xlsx", "/review/stats/meeting"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.status_code)
        assert "日期" in answer.get_data(as_text=True)


def test_access_anonymous_to_login_and_roles_without_the_permission_refused(app, seeded):
    for path in ("/review/stats", "/review/stats.xlsx", "/review/stats/meeting", "/review/register.xlsx",
                 "/review/unit-stats"):
        answer = app.test_client().get(path)
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/login?next=")
    police = create_staff(role="police")
    liaison = create_staff(role="unit_liaison")
    admin = create_staff(role="admin")
    db.session.commit()
    for user in (police, liaison, admin):
        client = logged_in(app, user)
        for path in ("/review/stats", "/review/stats.xlsx", "/review/stats/meeting", "/review/register.xlsx"):
            assert client.get(path).status_code == 403, (user.role, path)
    assert logged_in(app, seeded.prosecutor).get("/review/unit-stats").status_code == 403


def test_the_meeting_view_shows_the_same_numbers_in_print_ready_page(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    shown = stats_of(client)
    page = client.get(f"/review/stats/meeting?{PERIOD}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert dict(STAT.findall(page.get_data(as_text=True))) == shown
    from pathlib import Path

    css = (Path(app.static_folder) / "meeting.css").read_text()
    assert "@page{size:A4 landscape" in css


def test_quick_picks_cover_this_year_last_year_and_each_quarter():
    period, errors = presenters.parse_period({})
    picks = presenters.quick_picks(period)
    labels = [p["label"] for p in picks]
    assert labels[:2] == ["今年", "去年"]
    assert sum("季度" in label for label in labels) == 8
    assert picks[0]["active"]
    assert not errors
    q4 = next(p for p in picks if p["label"].endswith("第4季度"))
    assert q4["to"].endswith("-12-31")
    assert q4["from"].endswith("-10-01")




def page_breakdowns(html_text: str) -> dict[str, tuple[str, list[tuple[str, ...]]]]:
    """Each breakdown table of a statistics page: its title and its body rows, as the page shows them."""
    import html

    found = {}
    for key, section in re.findall(r'data-breakdown="(\w+)">(.*?)</section>', html_text, re.S):
        title = html.unescape(re.search(r"<h2[^>]*>(.*?)</h2>", section, re.S).group(1))
        body = section.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in section else ""
        rows = [tuple(html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
                for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
        found[key] = (title, rows)
    return found


def workbook_rows(book, title: str) -> list[tuple[str, ...]]:
    """A breakdown sheet's rows under its header row, as text (the sheet keeps numbers as numbers)."""
    rows = list(book[title.split("（")[0][:31]].iter_rows(values_only=True))
    head = next(i for i, row in enumerate(rows) if len(row) > 1 and row[1] is not None)
    return [tuple("" if v is None else str(v) for v in row) for row in rows[head + 1:]]


def test_every_breakdown_sheet_of_the_workbook_holds_the_rows_of_the_pages_table(app, seeded):
    client = logged_in(app, seeded.prosecutor)
    tables = page_breakdowns(client.get(f"/review/stats?{PERIOD}").get_data(as_text=True))
    assert set(tables) == {"by_month", "by_category", "by_unit_type", "by_unit", "by_district", "by_channel",
                           "timing", "silent_units"}
    book = load_workbook(io.BytesIO(exported(client, f"/review/stats.xlsx?{PERIOD}").data), read_only=True)
    for key, (title, rows) in tables.items():
        assert rows, key  # the seed fills every breakdown, so the comparison is not vacuous
        assert workbook_rows(book, title) == rows, key


def chart_values(section: str) -> list[str]:
    import html

    return [html.unescape(v) for v in re.findall(r'class="chart-value">([^<]*)</text>', section)]


def test_the_charts_are_server_drawn_svg_bars_and_lines_with_the_tables_numbers_written_on_them(app, seeded):
    page = logged_in(app, seeded.prosecutor).get(f"/review/stats?{PERIOD}").get_data(as_text=True)
    tables = page_breakdowns(page)
    sections = dict(re.findall(r'data-breakdown="(\w+)">(.*?)</section>', page, re.S))
    months = sections["by_month"]
    assert months.count('class="chart-line"') == 3  # received, transferred, closed: one line each
    # Each month's values are written above its points (an equal value once, highest first): the table's row.
    assert chart_values(months) == [v for row in tables["by_month"][1]
                                    for v in sorted({row[c] for c in (1, 2, 3)}, key=int, reverse=True)]
    for key in ("by_category", "by_unit_type", "by_district", "by_channel"):
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars"' in sections[key], key
        assert chart_values(sections[key]) == [row[-1] for row in tables[key][1]], key
    assert "<script" not in page
    assert "style=" not in page


def test_districts_are_shown_by_name_where_the_office_named_them(app, seeded):
    from app.offices.models import OfficeDistrict

    db.session.add(OfficeDistrict(code="330102", name="上城区", office_id=1))
    db.session.commit()
    client = logged_in(app, seeded.prosecutor)
    rows = page_breakdowns(client.get(f"/review/stats?{PERIOD}").get_data(as_text=True))["by_district"][1]
    labels = {row[0]: row[1] for row in rows}
    assert labels.get("上城区") == "330102"
    assert labels.get("区划 330103") == "330103"  # not named: said to be a code
    meeting = client.get(f"/review/stats/meeting?{PERIOD}").get_data(as_text=True)
    assert ">上城区</text>" in meeting
    book = load_workbook(io.BytesIO(exported(client, f"/review/stats.xlsx?{PERIOD}").data), read_only=True)
    cells = [row[:2] for row in book["按区划"].iter_rows(values_only=True)]
    assert ("上城区", "330102") in cells
