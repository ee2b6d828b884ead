"""The web form, its receipt and the status lookup, through Flask's test client (CONTRACT.md, "Web pages")."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import attachments, presenters, service
from app.reports.models import Report
from app.units.models import Unit

CST = dt.timezone(dt.timedelta(hours=8))
TRACKING_NO = re.compile(r"^QZBG-\d{4}-\d{6}$")
REMINDER_110 = "情况紧急请立即拨打110报警"


# --- a small DOM, enough to ask "is this error beside that input?" -------------------------------------------------

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children).strip()

    def iter(self) -> Any:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            n for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in wanted.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'} {attrs}>"
        return found[0]

    def closest(self, css_class: str) -> Node:
        node = self.parent
        while node is not None and css_class not in node.attrs.get("class", "").split():
            node = node.parent
        assert node is not None, f"no ancestor .{css_class}"
        return node


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID_TAGS:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    return builder.root


# --- helpers ----------------------------------------------------------------------------------------------------


def open_form(client: FlaskClient, query: str = "") -> tuple[Node, dict[str, str]]:
    """The rendered form and its hidden fields (csrf_token, form_key), as a browser would get them."""
    page = client.get("/report" + query)
    assert page.status_code == 200
    doc = parse(page.text)
    hidden = {name: doc.find("input", name=name).attrs["value"] for name in ("csrf_token", "form_key")}
    return doc, hidden


def local(moment: dt.datetime) -> str:
    """A datetime-local value, as the browser sends it."""
    return moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M")


def filled(hidden: dict[str, str], **changes: Any) -> dict[str, Any]:
    """A complete, valid form post; ``changes`` use the form's dotted names (``None`` leaves a field out)."""
    two_hours_ago = dt.datetime.now(CST) - dt.timedelta(hours=2)
    data: dict[str, Any] = {
        **hidden,
        "categories": ["abuse_injury"],
        "unit_id": "",
        "reporter.name": "王医生",
        "reporter.phone": "13800000000",
        "reporter.position": "急诊科医生",
        "victim.name": "小花",
        "victim.gender": "female",
        "victim.age": "12",
        "victim.id_number": "",
        "victim.address": "某区某街道",
        "victim.guardian_name": "",
        "victim.guardian_phone": "",
        "victim.has_disability": "0",
        "incident.discovered_at": local(two_hours_ago),
        "incident.occurred_at": "",
        "incident.location": "市妇幼保健院急诊科",
        "incident.description": "接诊时发现患儿身上有多处新旧不一的淤伤。\n家长解释前后矛盾。",
        "suspect.name": "",
        "suspect.relation": "邻居",
        "suspect.description": "",
        "police.notified": "0",
        "police.station": "",
        "police.notified_at": "",
        "website": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post_form(client: FlaskClient, data: dict[str, Any], **kwargs: Any) -> TestResponse:
    """Post as a browser does (multipart), lists as repeated fields, (bytes, name, type) tuples as files.

    The body is encoded in memory: the test client would spool a large one to a temporary
    file that it never closes.
    """
    fields: MultiDict[str, Any] = MultiDict()
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                content, filename, content_type = item
                item = FileStorage(io.BytesIO(content), filename=filename, content_type=content_type)
            fields.add(name, item)
    boundary, body = encode_multipart(fields)
    return client.post("/report", data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (16, 12), *, noise: bool = False) -> bytes:
    """A real image; ``noise`` makes it about as large as a phone photo of that size."""
    width, height = size
    image = (
        Image.frombytes("RGB", size, random.randbytes(width * height * 3)) if noise
        else Image.new("RGB", size, (180, 40, 40))
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def stored_reports() -> list[Report]:
    return list(db.session.scalars(select(Report)))


def files_in(directory: Path) -> list[Path]:
    """Every attachment file left in the attachments directory, partial uploads included (staged ones apart)."""
    if not directory.exists():
        return []
    return [p for p in directory.rglob("*") if p.is_file() and ".staged" not in p.relative_to(directory).parts]


def staged_in(directory: Path) -> list[Path]:
    """The files staged for forms that came back with errors (reports/staging.py)."""
    root = directory / ".staged"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def receipt_codes(client: FlaskClient, location: str) -> tuple[str, str]:
    page = client.get(location)
    assert page.status_code == 200
    doc = parse(page.text)
    return doc.find(data_field="tracking_no").text(), doc.find(data_field="status_code").text()


@pytest.fixture
def submit(client: FlaskClient) -> Callable[..., TestResponse]:
    """Open the form and post it filled in, with ``changes``."""

    def submit_form(**changes: Any) -> TestResponse:
        _doc, hidden = open_form(client)
        return post_form(client, filled(hidden, **changes))

    return submit_form


# --- submitting -------------------------------------------------------------------------------------------------


def test_a_valid_form_stores_one_report_and_redirects_to_its_receipt(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden))

    assert response.status_code == 303
    assert response.headers["Location"] == f"/report/receipt/{hidden['form_key']}"
    [report] = stored_reports()
    assert report.channel == "web"
    assert report.status == "new"
    tracking_no, status_code = receipt_codes(client, response.headers["Location"])
    assert tracking_no == report.tracking_no
    assert TRACKING_NO.match(tracking_no)
    assert service.find_by_status_code(tracking_no, status_code) == report
    view = presenters.reporter_view(report)
    assert view["reporter"] == {"name": "王医生", "phone": "13800000000", "position": "急诊科医生"}
    assert view["incident"]["description"] == "接诊时发现患儿身上有多处新旧不一的淤伤。\n家长解释前后矛盾。"
    assert view["suspect"] == {"name": None, "relation": "邻居", "description": None}


def test_the_receipt_shows_the_status_code_once_and_then_only_the_tracking_number(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    location = post_form(client, filled(hidden)).headers["Location"]
    tracking_no, _code = receipt_codes(client, location)

    again = parse(client.get(location).text)

    assert again.find(data_field="tracking_no").text() == tracking_no
    assert again.find_all(data_field="status_code") == []


def test_the_receipt_of_an_unknown_form_is_not_found(client: FlaskClient) -> None:
    assert client.get("/report/receipt/" + "A" * 24).status_code == 404
    assert client.get("/report/receipt/short").status_code == 404


def test_the_same_form_posted_twice_stores_one_report_and_leads_to_the_same_receipt(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    data = filled(hidden)

    first = post_form(client, data)
    second = post_form(client, data)

    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    [report] = stored_reports()
    tracking_no, _code = receipt_codes(client, second.headers["Location"])
    assert tracking_no == report.tracking_no


def test_two_rendered_forms_store_two_reports(client: FlaskClient) -> None:
    _doc, first = open_form(client)
    _doc, second = open_form(client)

    assert first["form_key"] != second["form_key"]
    post_form(client, filled(first))
    post_form(client, filled(second))

    assert len(stored_reports()) == 2


def test_two_tabs_submitting_two_reports_each_show_their_own_status_code(client: FlaskClient) -> None:
    _doc, first = open_form(client)
    _doc, second = open_form(client)
    first_receipt = post_form(client, filled(first)).headers["Location"]
    second_receipt = post_form(client, filled(second)).headers["Location"]

    later = receipt_codes(client, second_receipt)
    earlier = receipt_codes(client, first_receipt)

    assert earlier[0] != later[0]
    for tracking_no, status_code in (earlier, later):
        assert service.find_by_status_code(tracking_no, status_code) is not None


def test_only_stored_reports_count_against_the_intake_limit(app: Flask, client: FlaskClient) -> None:
    app.config["QZBG"] = app.config["QZBG"].replace(intake_rate_limit="2 per minute")
    _doc, hidden = open_form(client)
    for _ in range(3):
        assert post_form(client, filled(hidden, **{"reporter.phone": "1"})).status_code == 422
    assert post_form(client, filled(hidden)).status_code == 303
    _doc, second = open_form(client)
    assert post_form(client, filled(second)).status_code == 303
    _doc, third = open_form(client)

    refused = post_form(client, filled(third))

    assert refused.status_code == 429
    assert "操作过于频繁" in refused.text
    assert len(stored_reports()) == 2


def test_categories_are_repeated_once_per_chosen_code(submit: Callable[..., TestResponse]) -> None:
    assert submit(categories=["genital_injury", "abandonment"]).status_code == 303

    [report] = stored_reports()
    assert report.categories == ["genital_injury", "abandonment"]


def test_booleans_are_sent_as_one_and_zero(submit: Callable[..., TestResponse]) -> None:
    response = submit(**{
        "urgent": "1", "victim.has_disability": "1",
        "police.notified": "1", "police.station": "城北派出所",
    })

    assert response.status_code == 303
    [report] = stored_reports()
    assert report.urgent is True
    assert report.section("victim")["has_disability"] is True
    assert report.section("police")["notified"] is True
    assert report.section("police")["station"] == "城北派出所"


def test_an_unticked_urgent_box_and_zero_flags_are_false(submit: Callable[..., TestResponse]) -> None:
    assert submit(**{"victim.has_disability": "0", "police.notified": "0"}).status_code == 303

    [report] = stored_reports()
    assert report.urgent is False
    assert report.section("victim")["has_disability"] is False
    assert report.section("police")["notified"] is False


def test_datetime_local_values_are_read_as_china_standard_time(submit: Callable[..., TestResponse]) -> None:
    response = submit(**{
        "incident.discovered_at": "2025-03-01T09:15",
        "incident.occurred_at": "2025-02-28T23:30:15",
        "police.notified": "1",
        "police.notified_at": "2025-03-01T10:00:00.000",
    })

    assert response.status_code == 303
    [report] = stored_reports()
    view = presenters.reporter_view(report)
    discovered = dt.datetime.fromisoformat(view["incident"]["discovered_at"])
    assert discovered == dt.datetime(2025, 3, 1, 1, 15, tzinfo=dt.UTC)
    assert discovered.utcoffset() == dt.timedelta(hours=8)
    occurred = dt.datetime.fromisoformat(view["incident"]["occurred_at"])
    assert occurred == dt.datetime(2025, 2, 28, 15, 30, 15, tzinfo=dt.UTC)
    notified = dt.datetime.fromisoformat(view["police"]["notified_at"])
    assert notified == dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)


def test_unit_query_preselects_the_unit_and_the_report_carries_it(client: FlaskClient, unit: Unit) -> None:
    doc, hidden = open_form(client, f"?unit={unit.code}")

    option = doc.find("select", name="unit_id").find("option", value=str(unit.id))
    assert "selected" in option.attrs
    assert post_form(client, filled(hidden, unit_id=str(unit.id))).status_code == 303
    [report] = stored_reports()
    assert report.unit_id == unit.id
    assert report.unit_type == "maternal_child_health"


def test_an_unknown_unit_code_preselects_nothing(client: FlaskClient, unit: Unit) -> None:
    doc, _hidden = open_form(client, "?unit=no-such-unit")

    select_box = doc.find("select", name="unit_id")
    assert [o.attrs["value"] for o in select_box.find_all("option") if "selected" in o.attrs] == []


def test_an_inactive_unit_is_an_error_beside_the_unit_field(
    client: FlaskClient, submit: Callable[..., TestResponse], unit: Unit
) -> None:
    unit.active = False
    db.session.commit()

    response = submit(unit_id=str(unit.id))

    assert response.status_code == 422
    doc = parse(response.text)
    assert doc.find(data_error_for="unit_id").closest("field").find_all("select", name="unit_id")
    assert stored_reports() == []


def test_an_inactive_unit_is_named_beside_the_other_errors(
    client: FlaskClient, submit: Callable[..., TestResponse], unit: Unit
) -> None:
    unit.active = False
    db.session.commit()

    response = submit(unit_id=str(unit.id), **{"reporter.phone": "12345"})

    assert response.status_code == 422
    doc = parse(response.text)
    assert "停用" in doc.find(data_error_for="unit_id").text()
    assert doc.find(data_error_for="reporter.phone")


# --- field errors -----------------------------------------------------------------------------------------------


def test_a_wrong_phone_number_is_shown_beside_the_phone_field_with_the_input_kept(
    submit: Callable[..., TestResponse],
) -> None:
    response = submit(**{"reporter.phone": "12345", "categories": ["abuse_injury", "abandonment"], "urgent": "1"})

    assert response.status_code == 422
    doc = parse(response.text)
    error = doc.find(data_error_for="reporter.phone")
    assert "手机号码" in error.text()
    field = error.closest("field")
    phone = field.find("input", name="reporter.phone")
    assert phone.attrs["value"] == "12345"
    assert phone.attrs.get("aria-invalid") == "true"
    assert doc.find("input", name="reporter.name").attrs["value"] == "王医生"
    assert doc.find("textarea", name="incident.description").text().startswith("接诊时发现患儿")
    checked = {n.attrs["value"] for n in doc.find_all("input", name="categories") if "checked" in n.attrs}
    assert checked == {"abuse_injury", "abandonment"}
    assert "checked" in doc.find("input", name="urgent").attrs
    assert "checked" in doc.find("input", name="victim.gender", value="female").attrs
    assert "checked" in doc.find("input", name="victim.has_disability", value="0").attrs
    assert doc.find_all(data_error_for="reporter.name") == []
    assert stored_reports() == []


def test_the_form_keeps_its_form_key_after_an_error_so_the_corrected_post_is_still_one_report(
    client: FlaskClient,
) -> None:
    _doc, hidden = open_form(client)
    refused = post_form(client, filled(hidden, **{"reporter.phone": "12345"}))
    kept = parse(refused.text).find("input", name="form_key").attrs["value"]

    assert kept == hidden["form_key"]
    assert post_form(client, filled(hidden)).status_code == 303
    assert len(stored_reports()) == 1


def test_an_empty_form_names_every_required_field(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)

    response = post_form(client, {**hidden, "reporter.name": "", "incident.description": ""})

    assert response.status_code == 422
    doc = parse(response.text)
    for name in ("categories", "reporter.name", "reporter.phone", "victim.gender",
                 "incident.discovered_at", "incident.description", "police.notified"):
        assert doc.find_all(data_error_for=name), name
    assert "此项必填" in doc.find(data_error_for="reporter.name").text()
    assert stored_reports() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("victim.age", "18", "0至17"),
        ("victim.age", "-1", "0至17"),
        ("victim.age", "²", "整数"),
        ("victim.has_disability", "yes", "是"),
        ("incident.discovered_at", "2025-02-30T10:00", "日期"),
        ("incident.discovered_at", "2025-03-01T10:00+00:00", "日期"),
        ("incident.discovered_at", "明天", "日期"),
        ("incident.discovered_at", "0001-01-01T00:00", "日期"),
        ("police.notified_at", "2025-13-01T10:00", "日期"),
        ("incident.description", "太短了", "10"),
        ("victim.gender", "other", "可选"),
        ("categories", "no_such_code", "可选"),
        ("unit_id", "abc", "整数"),
    ],
)
def test_a_wrong_value_is_an_error_beside_its_field(
    submit: Callable[..., TestResponse], name: str, value: str, message: str
) -> None:
    response = submit(**{name: value})

    assert response.status_code == 422
    error = parse(response.text).find(data_error_for=name)
    assert message in error.text()
    assert stored_reports() == []


def errors_shown(response: TestResponse) -> dict[str, str]:
    """{field name: its first error text} of a refused form, as the person sees them beside the fields."""
    shown: dict[str, str] = {}
    for node in parse(response.text).iter():
        name = node.attrs.get("data-error-for")
        if name and node.tag == "p":
            shown.setdefault(name, node.text())
    return shown


def adult_id_number() -> str:
    from tests.factories import valid_id_number

    return valid_id_number(dt.date(1990, 5, 1))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The case: a missing gender used to hide the age until the next round.
        ({"victim.gender": None, "victim.age": "19"}, {"victim.gender": "必填", "victim.age": "0至17"}),
        ({"victim.gender": None, "victim.age": "19", "reporter.phone": "12345", "incident.description": "太短"},
         {"victim.gender": "必填", "victim.age": "0至17", "reporter.phone": "手机号码", "incident.description": "10"}),
        ({"reporter.name": "", "incident.occurred_at": "2099-01-01T10:00",
          "incident.discovered_at": "2025-03-01T10:00"},
         {"reporter.name": "必填", "incident.occurred_at": "晚于发现时间"}),
        ({"victim.gender": None, "victim.id_number": adult_id_number(), "victim.age": ""},
         {"victim.gender": "必填", "victim.id_number": "已满18周岁"}),
        ({"categories": ["abuse_injury", "abuse_injury"], "reporter.phone": ""},
         {"categories": "重复", "reporter.phone": "必填"}),
        ({"police.notified": "1", "police.notified_at": "2099-01-01T10:00", "victim.age": "18",
          "incident.discovered_at": "2099-01-01T09:00"},
         {"police.notified_at": "晚于当前时间", "victim.age": "0至17", "incident.discovered_at": "晚于当前时间"}),
        ({"police.notified": None, "victim.age": "30"}, {"police.notified": "必填", "victim.age": "0至17"}),
    ],
)
def test_every_error_of_a_form_is_shown_at_once(
    submit: Callable[..., TestResponse], changes: dict[str, Any], expected: dict[str, str]
) -> None:
    response = submit(**changes)

    assert response.status_code == 422
    shown = errors_shown(response)
    assert set(shown) == set(expected), shown
    for name, words in expected.items():
        assert words in shown[name], (name, shown[name])
    summary = parse(response.text).find("div", id="form-errors")
    assert len(summary.find_all("li")) == len(expected)
    assert stored_reports() == []


def test_a_wrong_category_code_is_one_error_not_also_none_chosen(submit: Callable[..., TestResponse]) -> None:
    response = submit(categories=["no_such_code"], **{"victim.age": "19"})

    assert response.status_code == 422
    categories = [n.text() for n in parse(response.text).find_all("p", data_error_for="categories")]
    assert len(categories) == 1
    assert "可选" in categories[0]
    assert "0至17" in errors_shown(response)["victim.age"]


def test_the_police_question_has_no_answer_chosen_when_the_form_opens(client: FlaskClient) -> None:
    doc, _hidden = open_form(client)

    radios = doc.find_all("input", name="police.notified")
    assert {r.attrs["value"] for r in radios} == {"1", "0"}
    assert [r for r in radios if "checked" in r.attrs] == []
    assert doc.find("fieldset", id="f-police.notified").find_all("span", **{"class": "req"})


def test_a_reporter_who_skips_the_police_question_is_asked_to_answer_it(
    submit: Callable[..., TestResponse],
) -> None:
    response = submit(**{"police.notified": None, "police.station": "城北派出所"})

    assert response.status_code == 422
    doc = parse(response.text)
    error = doc.find(data_error_for="police.notified")
    assert "必填" in error.text()
    assert error.closest("field").find_all("input", name="police.notified")
    assert [r for r in doc.find_all("input", name="police.notified") if "checked" in r.attrs] == []
    assert doc.find("input", name="police.station").attrs["value"] == "城北派出所"
    assert stored_reports() == []


@pytest.mark.parametrize("answer", ["0", "1"])
def test_the_police_answer_given_is_stored(submit: Callable[..., TestResponse], answer: str) -> None:
    assert submit(**{"police.notified": answer}).status_code == 303

    [report] = stored_reports()
    assert report.section("police")["notified"] is (answer == "1")


def test_a_discovery_time_in_the_future_is_refused(submit: Callable[..., TestResponse]) -> None:
    tomorrow = dt.datetime.now(CST) + dt.timedelta(days=1)

    response = submit(**{"incident.discovered_at": local(tomorrow)})

    assert response.status_code == 422
    assert "晚于当前时间" in parse(response.text).find(data_error_for="incident.discovered_at").text()


@pytest.mark.parametrize("name", ["reporter", "urgent.level", "categories.0", "victim.name.first", "nickname"])
def test_a_field_name_outside_the_report_is_refused_not_a_crash(
    submit: Callable[..., TestResponse], name: str
) -> None:
    response = submit(**{name: "x"})

    assert response.status_code == 422
    assert "不支持的字段" in response.text
    assert stored_reports() == []


# --- CSRF and the honeypot --------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-a-real-token"])
def test_a_post_without_a_valid_csrf_token_is_a_400_page_in_chinese(
    client: FlaskClient, token: str | None
) -> None:
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, csrf_token=token))

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert '<html lang="zh-CN">' in response.text
    assert "页面已过期" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert stored_reports() == []


def test_a_filled_honeypot_stores_nothing(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, website="http://spam.example"))

    assert response.status_code == 400
    assert stored_reports() == []


def test_a_post_without_a_form_key_stores_nothing(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, form_key=None))

    assert response.status_code == 400
    assert stored_reports() == []


def test_over_https_a_form_post_without_a_referer_passes(client: FlaskClient) -> None:
    # The pages send no Referer (no-referrer): the CSRF token alone protects the form.
    page = client.get("/report", base_url="https://localhost")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    hidden = {name: parse(page.text).find("input", name=name).attrs["value"] for name in ("csrf_token", "form_key")}

    response = post_form(client, filled(hidden), base_url="https://localhost")

    assert response.status_code == 303
    assert len(stored_reports()) == 1


# --- attachments ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "content_type", "filename"), [("PNG", "image/png", "伤情照片.png"),
                                                               ("JPEG", "image/jpeg", "IMG_0001.jpg")])
def test_attached_photos_are_stored_encrypted(
    app: Flask, submit: Callable[..., TestResponse], fmt: str, content_type: str, filename: str
) -> None:
    photo = image_bytes(fmt)

    response = submit(files=[(photo, filename, content_type)])

    assert response.status_code == 303
    [report] = stored_reports()
    [attachment] = report.attachments
    assert attachment.content_type == content_type
    assert attachment.size == len(photo)
    assert attachment.unseal("filename_data") == filename
    directory = app.config["QZBG"].attachments_dir
    [blob] = files_in(directory)
    on_disk = blob.read_bytes()
    assert photo[:8] not in on_disk
    assert filename.encode() not in on_disk
    assert attachments.open_blob(attachment, directory, get_vault()) == photo


def test_several_files_go_with_one_report(submit: Callable[..., TestResponse]) -> None:
    files = [(image_bytes("PNG"), "a.png", "image/png"),
             (image_bytes("JPEG"), "b.jpg", "image/jpeg")]

    assert submit(files=files).status_code == 303

    [report] = stored_reports()
    assert sorted(a.content_type for a in report.attachments) == ["image/jpeg", "image/png"]


def test_an_empty_file_input_is_no_attachment(submit: Callable[..., TestResponse]) -> None:
    assert submit(files=[(b"", "", "application/octet-stream")]).status_code == 303

    [report] = stored_reports()
    assert report.attachments == []


def test_a_text_file_named_jpg_is_refused_beside_the_files_field_and_nothing_is_stored(
    app: Flask, submit: Callable[..., TestResponse]
) -> None:
    files = [(image_bytes("PNG"), "good.png", "image/png"),
             ("这不是照片，只是文字。".encode(), "photo.jpg", "image/jpeg")]

    response = submit(files=files)

    assert response.status_code == 422
    doc = parse(response.text)
    error = doc.find(data_error_for="files")
    assert "photo.jpg" in error.text()
    assert "不支持的文件类型" in error.text()
    assert error.closest("field").find_all("input", name="files")
    # The good file waits for the corrected form; the refused one is not kept.
    assert [n.text() for n in doc.find_all("span", **{"class": "staged-name"})] == ["good.png"]
    assert doc.find("input", name="reporter.name").attrs["value"] == "王医生"
    assert stored_reports() == []
    assert files_in(app.config["QZBG"].attachments_dir) == []


def test_a_phone_sized_photo_of_several_megabytes_is_accepted(
    app: Flask, submit: Callable[..., TestResponse]
) -> None:
    photo = image_bytes("JPEG", size=(1600, 1200), noise=True)
    assert len(photo) > 2 * 1024 * 1024

    response = submit(files=[(photo, "IMG_2001.jpg", "image/jpeg")])

    assert response.status_code == 303
    [report] = stored_reports()
    [attachment] = report.attachments
    assert attachments.open_blob(attachment, app.config["QZBG"].attachments_dir, get_vault()) == photo


def test_a_file_over_the_size_limit_is_refused_beside_the_files_field(
    app: Flask, submit: Callable[..., TestResponse]
) -> None:
    app.config["QZBG"] = app.config["QZBG"].replace(max_attachment_mb=1)
    big = image_bytes("JPEG") + b"\0" * (1024 * 1024)

    response = submit(files=[(big, "big.jpg", "image/jpeg")])

    assert response.status_code == 413
    assert "1 MB" in parse(response.text).find(data_error_for="files").text()
    assert stored_reports() == []
    assert files_in(app.config["QZBG"].attachments_dir) == []


def test_a_field_error_keeps_the_chosen_files_and_lists_them(submit: Callable[..., TestResponse]) -> None:
    response = submit(**{"reporter.phone": "12345"}, files=[(image_bytes(), "a.png", "image/png")])

    assert response.status_code == 422
    files_field = parse(response.text).find("input", name="files").closest("field")
    assert [n.text() for n in files_field.find_all("span", **{"class": "staged-name"})] == ["a.png"]
    assert files_field.find_all("input", name="staged_remove")
    assert "请重新选择" not in files_field.text()


# --- the status lookup ------------------------------------------------------------------------------------------


def _submitted(client: FlaskClient) -> tuple[str, str]:
    _doc, hidden = open_form(client)
    return receipt_codes(client, post_form(client, filled(hidden)).headers["Location"])


def _lookup(client: FlaskClient, tracking_no: str, status_code: str) -> TestResponse:
    page = parse(client.get("/report/status").text)
    token = page.find("input", name="csrf_token").attrs["value"]
    data = {"csrf_token": token, "tracking_no": tracking_no, "status_code": status_code}
    return client.post("/report/status", data=data)


def test_the_tracking_number_and_status_code_show_the_status(client: FlaskClient) -> None:
    tracking_no, status_code = _submitted(client)

    response = _lookup(client, tracking_no.lower(), f" {status_code.lower()} ")

    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.find(data_field="tracking_no").text() == tracking_no
    assert doc.find(data_field="status").text() == "已提交"
    assert "接诊时发现患儿" in response.text


def test_a_wrong_status_code_is_an_error_and_404(client: FlaskClient) -> None:
    tracking_no, _status_code = _submitted(client)

    response = _lookup(client, tracking_no, "WRONGCODE2")

    assert response.status_code == 404
    assert "查询号或查询码不正确" in response.text
    assert "接诊时发现患儿" not in response.text
    assert parse(response.text).find("input", name="tracking_no").attrs["value"] == tracking_no


def test_an_unknown_tracking_number_is_the_same_error(client: FlaskClient) -> None:
    response = _lookup(client, "QZBG-2020-999999", "ABCDEFGHJK")

    assert response.status_code == 404
    assert "查询号或查询码不正确" in response.text


def test_the_status_lookup_needs_a_csrf_token(client: FlaskClient) -> None:
    tracking_no, status_code = _submitted(client)

    response = client.post("/report/status", data={"tracking_no": tracking_no, "status_code": status_code})

    assert response.status_code == 400


# --- every page -------------------------------------------------------------------------------------------------


def test_every_report_page_is_sent_no_store(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    refused = post_form(client, filled(hidden, **{"reporter.phone": "1"}))
    created = post_form(client, filled(hidden))
    receipt = client.get(created.headers["Location"])
    tracking_no = parse(receipt.text).find(data_field="tracking_no").text()
    pages = [
        client.get("/report"), refused, created, receipt,
        client.get("/report/status"), _lookup(client, tracking_no, "WRONGCODE2"),
        client.get("/report/receipt/" + "B" * 24),
    ]

    for page in pages:
        assert page.headers["Cache-Control"] == "no-store", page.request.path
        assert page.headers["X-Frame-Options"] == "DENY"


def test_the_form_and_the_receipt_remind_to_call_110(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    form = client.get("/report")
    location = post_form(client, filled(hidden)).headers["Location"]
    receipt = client.get(location)

    for page in (form, receipt):
        assert REMINDER_110 in page.text
        assert parse(page.text).find("a", href="tel:110")


def test_the_form_offers_every_category_in_the_order_of_the_domain(client: FlaskClient) -> None:
    from app.reports.constants import CATEGORIES

    doc, _hidden = open_form(client)

    assert [n.attrs["value"] for n in doc.find_all("input", name="categories")] == list(CATEGORIES)
    assert doc.find("input", name="files").attrs.get("multiple") is not None
    assert doc.find("form").attrs["enctype"] == "multipart/form-data"


# --- the 查询码 in transit --------------------------------------------------------------------------------------


def session_cookie_payload(client: FlaskClient) -> str:
    """What anyone holding the browser's cookie can read: Flask signs its session, it does not encrypt it."""
    import base64
    import zlib

    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_the_status_code_is_not_readable_in_the_session_cookie(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    response = post_form(client, filled(hidden))
    payload = session_cookie_payload(client)
    _tracking_no, status_code = receipt_codes(client, response.headers["Location"])
    assert status_code not in payload
    assert hidden["form_key"] in payload  # the form's receipt is there, sealed


def test_a_double_submit_whose_first_answer_was_lost_still_gets_a_working_status_code(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    data = filled(hidden)
    cookie_after_opening = client.get_cookie("session").value
    post_form(client, data)
    client.set_cookie("session", cookie_after_opening)  # the browser dropped the first answer and its cookie

    again = post_form(client, data)

    assert again.status_code == 303
    [report] = stored_reports()
    tracking_no, status_code = receipt_codes(client, again.headers["Location"])
    assert tracking_no == report.tracking_no
    db.session.expire_all()
    assert service.find_by_status_code(tracking_no, status_code) is not None


def test_someone_who_learns_the_receipt_url_gets_no_status_code(app: Flask) -> None:
    reporter_browser, other_browser = app.test_client(), app.test_client()
    _doc, hidden = open_form(reporter_browser)
    data = filled(hidden)
    location = post_form(reporter_browser, data).headers["Location"]
    tracking_no, status_code = receipt_codes(reporter_browser, location)
    g.pop("csrf_token", None)  # Flask-WTF caches the token in g, which the test's app context keeps
    _doc, other_hidden = open_form(other_browser)

    replay = post_form(other_browser, {**data, "csrf_token": other_hidden["csrf_token"]})

    assert replay.status_code == 303
    page = parse(other_browser.get(replay.headers["Location"]).text)
    assert page.find_all(data_field="status_code") == []
    db.session.expire_all()
    assert service.find_by_status_code(tracking_no, status_code) is not None  # the reporter's code still works


def test_resubmitting_after_the_receipt_was_shown_keeps_the_code_already_given(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    data = filled(hidden)
    location = post_form(client, data).headers["Location"]
    tracking_no, status_code = receipt_codes(client, location)

    post_form(client, data)  # back button, submit again

    db.session.expire_all()
    assert service.find_by_status_code(tracking_no, status_code) is not None
