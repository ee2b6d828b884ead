"""Valid but unusual input is stored and read back exactly (after the documented cleaning).

Free texts are measured as sent (a line break counting once), then lose control and invisible characters
(newlines kept where the text is multiline, ``\\r\\n`` becoming ``\\n``); unassigned code points stay.
Phone numbers lose spaces and full-width digits become ASCII; ID numbers are upper-cased; categories come
back in DOMAIN.md's order.
Everything else, emoji and rare characters included, comes back as it was sent.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.fields import clean_text, text_length
from app.core.idcard import check_digit
from app.reports.constants import CATEGORIES
from tests.factories import CST, report_body, valid_id_number

REPORTS = "/api/v1/reports"
SECTIONS = ("categories", "urgent", "unit_id", "reporter", "victim", "incident", "suspect", "police")
TIMES = ("discovered_at", "occurred_at", "notified_at")


def yesterday_noon() -> dt.datetime:
    return dt.datetime.now(CST).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def with_id(id_number: str, age: int | None) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["victim"].update(id_number=id_number, age=age)
        body["incident"]["discovered_at"] = yesterday_noon().isoformat()
    return change


def turns_18_tomorrow() -> str:
    """The ID number of someone who is 17 on the day of discovery and 18 the day after."""
    day = yesterday_noon().date()
    return valid_id_number(years_before(day, 18) + dt.timedelta(days=1))


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        body = body[key]
    body[last] = value


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The submitted sections, with times as instants (an offset may be written differently)."""
    out = {name: copy.deepcopy(report[name]) for name in SECTIONS}
    for section in ("incident", "police"):
        for key in TIMES:
            if out[section] and out[section].get(key):
                out[section][key] = dt.datetime.fromisoformat(out[section][key])
    return out


def submit_and_read(client: Any, reporter: Any, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post(REPORTS, json=body, headers=reporter.headers)
    assert created.status_code == 201, created.json
    detail = client.get(f"{REPORTS}/{created.json['id']}", headers=reporter.headers)
    assert detail.status_code == 200, detail.json
    assert detail.mimetype == "application/json"
    return detail.json


def stored(case_id: str, sent: dict[str, Any], *, expect: dict[str, Any] | None = None,
           change: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """A case: ``sent`` merged into a valid body (or ``change`` applied); ``expect`` overrides what comes back."""
    return pytest.param(sent, expect or {}, change, id=case_id)


DESCRIPTION_CRLF = "第一行：接诊时发现淤伤。\r\n第二行：孩子说是摔的。\r第三行。\n\n第五行。\u2028第六行。"
DESCRIPTION_LF = "第一行：接诊时发现淤伤。\n第二行：孩子说是摔的。\n第三行。\n\n第五行。\n第六行。"

UNUSUAL = [
    stored("emoji-with-skin-tone", {"victim": {"name": "小花👧🏻"}}),
    stored("emoji-zwj-sequences",
           {"incident": {"description": "孩子画了一家人👨‍👩‍👧‍👦，说爸爸会打人👊🏽，还画了🏳️‍🌈。"}}),
    stored("flags-and-keycaps", {"incident": {"location": "🇨🇳 3️⃣号楼#️⃣"}}),
    stored("rare-cjk-astral-and-dense", {"reporter": {"name": "𠮷田龘𰻞"}, "suspect": {"name": "𪚥𠀀"}}),
    stored("names-with-middle-dots", {"victim": {"name": "阿卜杜拉·买买提", "guardian_name": "古丽娜尔•艾力"}}),
    stored("fifty-astral-characters-is-the-limit", {"reporter": {"name": "𠮷" * 50}}),
    stored("landline-with-hyphen", {"reporter": {"phone": "0571-88888888"}}),
    stored("landline-three-digit-area-code-and-extension", {"reporter": {"phone": "010-12345678-8001"}}),
    stored("landline-with-spaces", {"reporter": {"phone": "0571 8888 8888"}},
           expect={"reporter.phone": "057188888888"}),
    stored("mobile-in-full-width-digits", {"reporter": {"phone": "１３８００１３８０００"}},
           expect={"reporter.phone": "13800138000"}),
    stored("guardian-mobile-with-spaces", {"victim": {"guardian_phone": " 139 0000 0000 "}},
           expect={"victim.guardian_phone": "13900000000"}),
    stored("multiline-description-keeps-newlines-and-normalises-crlf",
           {"incident": {"description": DESCRIPTION_CRLF}}, expect={"incident.description": DESCRIPTION_LF}),
    stored("control-and-invisible-characters-stripped",
           {"incident": {"description": "\x00接诊\x07时发现\x1b多处\u200b淤伤\u202e，\ufeff需要报告。\x7f\u0085"},
            "reporter": {"name": "\u200e王\t医生\x00"}},
           expect={"incident.description": "接诊时发现多处淤伤，需要报告。", "reporter.name": "王 医生"}),
    stored("newline-in-single-line-text-becomes-a-space", {"reporter": {"position": "急诊科\r\n医生"}},
           expect={"reporter.position": "急诊科 医生"}),
    stored("description-of-exactly-ten-after-cleaning", {"incident": {"description": "\x00 一二三四五六七八九十 \x00"}},
           expect={"incident.description": "一二三四五六七八九十"}),
    stored("html-and-script-kept-as-text",
           {"incident": {"description": "<script>alert('xss')</script><img src=x onerror=alert(1)>",
                         "location": "<b>急诊科</b>&amp;"}}),
    stored("sql-kept-as-text",
           {"reporter": {"name": "Robert'); DROP TABLE reports;--"},
            "incident": {"description": "' OR '1'='1'; DELETE FROM reports; -- 接诊时发现"}}),
    stored("null-optional-sections", {"suspect": None, "police": None},
           # Stored as submitted: no police section means "not stated".
           expect={"police": None}),
    stored("victim-with-gender-only", {},
           change=lambda body: body.update(victim={"gender": "unknown"}),
           expect={"victim": {"name": None, "gender": "unknown", "age": None, "id_number": None, "address": None,
                              "guardian_name": None, "guardian_phone": None, "has_disability": None}}),
    stored("id-number-of-a-17-year-old", {}, change=lambda body: with_id(turns_18_tomorrow(), 17)(body)),
    stored("id-number-without-age", {}, change=lambda body: with_id(turns_18_tomorrow(), None)(body)),
    stored("id-number-with-lowercase-x", {},
           change=with_id("33010220100615105" + check_digit("33010220100615105").lower(), None),
           expect={"victim.id_number": "33010220100615105X"}),
    stored("id-number-in-full-width-digits", {},
           change=with_id("３３０１０２２０１５０３０１１２３" + check_digit("33010220150301123"), None),
           expect={"victim.id_number": "33010220150301123" + check_digit("33010220150301123")}),
    stored("age-0", {"victim": {"age": 0}}),
    stored("age-17", {"victim": {"age": 17}}),
    # Categories are a set: read back in DOMAIN.md's order, whatever order they were sent in.
    stored("all-nine-categories-in-reverse-order", {"categories": list(reversed(CATEGORIES))},
           expect={"categories": list(CATEGORIES)}),
    stored("times-in-utc-and-other-offsets", {},
           change=lambda body: body.update(
               incident={**body["incident"],
                         "discovered_at": yesterday_noon().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                         "occurred_at": (yesterday_noon() - dt.timedelta(days=3)).astimezone(
                             dt.timezone(dt.timedelta(hours=-5))).isoformat()},
               police={"notified": True, "station": None, "notified_at": yesterday_noon().isoformat()})),
    stored("discovered-within-the-clock-skew", {},
           change=lambda body: body.update(
               incident={**body["incident"],
                         "discovered_at": (dt.datetime.now(CST) + dt.timedelta(minutes=4)).isoformat()},
               police=None),
           expect={"police": None}),
    stored("urgent-report", {"urgent": True}),
    stored("a-line-break-counts-once-towards-the-limit",
           {"incident": {"description": "\r\n".join(["接" * 99] * 50) + "诊"}},
           expect={"incident.description": "\n".join(["接" * 99] * 50) + "诊"}),
    stored("unassigned-and-supplementary-private-use-characters-kept",
           {"reporter": {"name": "王\U000e0fff医生\U000f0001"}}),
]


@pytest.mark.parametrize(("sent", "expect", "change"), UNUSUAL)
def test_unusual_valid_input_is_stored_and_read_back_exactly(client, reporter, sent, expect, change):
    body = report_body(**sent)
    if change:
        change(body)
    expected = copy.deepcopy(body)
    for path, value in expect.items():
        set_path(expected, path, value)

    detail = submit_and_read(client, reporter, body)

    assert comparable(detail) == comparable(expected)


def test_report_for_an_active_unit_keeps_the_unit(client, reporter, unit):
    detail = submit_and_read(client, reporter, report_body(unit_id=unit.id))
    assert detail["unit_id"] == unit.id


def test_markup_is_answered_as_json_never_as_html(client, reporter):
    body = report_body(incident={"description": "</script><script>alert(document.cookie)</script>"})
    created = client.post(REPORTS, json=body, headers=reporter.headers)
    detail = client.get(f"{REPORTS}/{created.json['id']}", headers=reporter.headers)
    assert detail.mimetype == "application/json"
    assert detail.json["incident"]["description"] == body["incident"]["description"]


# Any text: letters of every script, emoji, symbols, spaces, and control and format characters too.
any_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=70)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=any_text.filter(lambda text: text_length(text) <= 50 and clean_text(text, multiline=False)))
def test_any_reporter_name_of_valid_length_round_trips_after_clean_text(client, reporter, name):
    body = report_body(reporter={"name": name})  # a new client_id for every example

    detail = submit_and_read(client, reporter, body)

    assert detail["reporter"]["name"] == clean_text(name, multiline=False)
