"""The OpenAPI document lists the contract's paths, and the API keeps to it strictly under fuzzing.

schemathesis generates requests from the document, schema-valid ones and schema-breaking ones, and checks
every answer: never a 500, a status the operation documents (there is no ``default`` response to hide
behind), the documented content type, headers and body. Schema-breaking input must be refused with a
documented 4xx. Schema-valid input must be accepted: 2xx, or one of the few refusals listed in
``EXPLAINED`` that depend on state the document cannot know (an unknown WeChat code, an unknown unit or
template, a file whose bytes are not a photo). The report body's rules that JSON Schema cannot state (the ID
number's check digit and birth date, times not in the future, age agreeing with the ID number, an active unit)
are written in the document's descriptions, and positive bodies are brought within them before sending.

``schemathesis.pytest.from_fixture`` (4.32.5) sets ``request.node._nodeid``, which pytest 9 no longer has,
so each operation's strategy is driven by Hypothesis directly.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from app.clients.fake_wechat import FakeWeChat
from app.core.idcard import age_on, birth_date
from tests.conftest import RELAXED_LIMIT, ReporterLogin, login_reporter
from tests.factories import CST, report_body, valid_id_number
from tests.wechat.conftest import TEMPLATE, wechat_settings

API_SCHEMA_PATH = "/api/v1/openapi.json"
# Every /api/v1 row of CONTRACT.md's table, as the document spells it.
CONTRACT_OPERATIONS = [
    ("post", "/api/v1/auth/wechat"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/phone"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/districts"),
    ("get", "/api/v1/units"),
    ("get", "/api/v1/units/scene/{scene}"),
    ("post", "/api/v1/reports"),
    ("post", "/api/v1/reports/{report_id}/attachments"),
    ("get", "/api/v1/reports"),
    ("get", "/api/v1/reports/{report_id}"),
    ("post", "/api/v1/reports/{report_id}/answers"),
    ("post", "/api/v1/subscriptions"),
]
# Everything the document lists: the contract's operations (the institutional one included) and the reporter's
# own profile.
FUZZED = [*CONTRACT_OPERATIONS, ("post", "/api/v1/institutional/reports"), ("get", "/api/v1/me")]
OPEN_OPERATIONS = {
    ("post", "/api/v1/auth/wechat"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/districts"),
    ("get", "/api/v1/units"),
    ("get", "/api/v1/units/scene/{scene}"),
}
# Operations with no parameter or body to break cannot be fuzzed negatively.
NOTHING_TO_BREAK = {
    ("get", "/api/v1/categories"), ("get", "/api/v1/units/scene/{scene}"), ("get", "/api/v1/me"),
    ("get", "/api/v1/districts"),
    ("post", "/api/v1/auth/logout"),
}
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # The app and the reporter are built once per test, on purpose: examples share that state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def app(make_app: Any, fake: FakeWeChat) -> Flask:
    """The app talking to the fake WeChat, with the login limit out of the fuzzer's way."""
    return make_app(**wechat_settings(fake), login_rate_limit=RELAXED_LIMIT)


def load_schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi(API_SCHEMA_PATH, app)


def own_report_id(client: Any, reporter: ReporterLogin) -> str:
    response = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def test_openapi_document_is_valid_openapi_3(app):
    schema = load_schema(app)
    schema.validate()  # raises with the first violation of the OpenAPI 3.0 meta-schema
    assert schema.raw_schema["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("method", "path"), CONTRACT_OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in CONTRACT_OPERATIONS]
)
def test_openapi_document_lists_every_contract_operation(client, method, path):
    document = client.get(API_SCHEMA_PATH).json
    assert method in document["paths"].get(path, {}), f"{method.upper()} {path} is missing from the document"


def test_every_documented_operation_is_fuzzed(client):
    document = client.get(API_SCHEMA_PATH).json
    documented = {(m, p) for p, item in document["paths"].items() for m in item if m != "parameters"}
    assert documented == set(FUZZED)


def test_openapi_document_needs_no_login_and_documents_bearer_auth(client):
    response = client.get(API_SCHEMA_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.json
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for method, path in FUZZED:
        secured = (method, path) not in OPEN_OPERATIONS
        assert bool(document["paths"][path][method].get("security")) is secured, f"{method} {path}"


# Refusals of schema-valid input that depend on state the document cannot know: (status, fields named).
EXPLAINED: dict[tuple[str, str], set[tuple[int, frozenset[str]]]] = {
    # Only codes the (fake) WeChat issued log in.
    ("post", "/api/v1/auth/wechat"): {(401, frozenset())},
    # Only a request signed with a registered key is taken (generated requests carry none; the signed path is
    # driven in tests/institutions by a fake hospital system).
    ("post", "/api/v1/institutional/reports"): {(401, frozenset())},
    # Only codes the (fake) WeChat issued verify a phone (a wrong one is a 422 on code, issue 6 B.13).
    ("post", "/api/v1/auth/phone"): {(422, frozenset({"code"}))},
    # Only the configured subscription templates can be granted.
    ("post", "/api/v1/subscriptions"): {(422, frozenset({"template_ids"}))},
    # Files are recognised by their bytes; a report takes at most 9.
    ("post", "/api/v1/reports/{report_id}/attachments"): {(422, frozenset({"file"}))},
    # Only a question the office asked on that report can be answered (a random id names none).
    ("post", "/api/v1/reports/{report_id}/answers"): {(422, frozenset({"question_id"}))},
    # A cursor is only ever one the previous page gave.
    ("get", "/api/v1/reports"): {(422, frozenset({"cursor"}))},
    # A random scene names no unit.
    ("get", "/api/v1/units/scene/{scene}"): {(404, frozenset())},
}


def within_prose_rules(body: Any, unit_id: int) -> Any:
    """A schema-valid report body brought within the rules the document states in words only."""
    if not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    now = dt.datetime.now(CST).replace(microsecond=0)
    discovered = now - dt.timedelta(days=1)
    body["unit_id"] = unit_id if body.get("unit_id") is not None else None
    body["district_code"] = None  # only districts an office covers route a report (none exist here)
    incident = body["incident"]
    incident["discovered_at"] = discovered.isoformat()
    if incident.get("occurred_at") is not None:
        incident["occurred_at"] = (discovered - dt.timedelta(hours=1)).isoformat()
    victim = body["victim"]
    if victim.get("id_number") is not None and victim["id_number"].strip():
        age = victim.get("age") if victim.get("age") is not None else 9
        day = discovered.date().replace(day=min(discovered.day, 28))
        born = day.replace(year=day.year - age) - dt.timedelta(days=1)  # the birthday just passed
        victim["id_number"] = valid_id_number(born)
        assert age_on(birth_date(victim["id_number"]), discovered.date()) == age
    police = body.get("police")
    if police and police.get("notified_at") is not None:
        police["notified_at"] = discovered.isoformat()
    return body


def assert_accepted(operation: tuple[str, str], response: Any) -> None:
    if 200 <= response.status_code < 300:
        return
    named = frozenset(response.json()["error"].get("fields", {}))
    assert (response.status_code, named) in EXPLAINED.get(operation, set()), (
        f"schema-valid input refused: {response.status_code} {response.text[:500]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [
        pytest.param(m, p, mode, id=f"{m.upper()} {p} {mode.value}")
        for m, p in FUZZED
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if not (mode is GenerationMode.NEGATIVE and (m, p) in NOTHING_TO_BREAK)
    ],
)
def test_generated_requests_are_answered_as_documented(app, client, reporter, unit, method, path, mode):
    operation = load_schema(app)[path][method.upper()]
    # A unit and an own report exist, so that lists are not empty and success answers are checked too.
    report_id = own_report_id(client, reporter)
    path_parameters = {"report_id": report_id} if "{report_id}" in path and mode is GenerationMode.POSITIVE else None
    strategy = operation.as_strategy(generation_mode=mode, headers=reporter.headers, path_parameters=path_parameters)
    positive = mode is GenerationMode.POSITIVE
    statuses: list[int] = []

    @given(case=strategy)
    @FUZZ_SETTINGS
    def check(case: Any) -> None:
        if positive and (method, path) == ("post", "/api/v1/reports"):
            case.body = within_prose_rules(case.body, unit.id)
        if (method, path) == ("post", "/api/v1/auth/logout"):
            # Logging out revokes the token: each example logs out a reporter of its own.
            fresh = login_reporter(f"o-fuzz-logout-{secrets.token_hex(4)}")
            case.headers = {**(case.headers or {}), **fresh.headers}
        # Every check (negative_data_rejection among them: a documented 4xx for schema-breaking input; an
        # unknown query argument is ignored, not refused) but positive_data_acceptance, whose allowances
        # (401, 404, 409, 429, 5xx whatever the operation) are too wide: assert_accepted replaces it.
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        statuses.append(response.status_code)
        if positive:
            assert_accepted((method, path), response)

    check()
    if positive and ((method, path) not in EXPLAINED or (method, path) == ("get", "/api/v1/reports")):
        # The run reached the operation's success path, not only its refusals.
        assert any(200 <= status < 300 for status in statuses), statuses


def test_a_valid_report_and_its_reads_answer_as_documented(app, reporter):
    reports = load_schema(app)["/api/v1/reports"]
    created = reports["POST"].Case(body=report_body(), headers=reporter.headers).call_and_validate()
    assert created.status_code == 201
    listed = reports["GET"].Case(headers=reporter.headers).call_and_validate()
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
    detail = load_schema(app)["/api/v1/reports/{report_id}"]["GET"]
    shown = detail.Case(path_parameters={"report_id": created.json()["id"]}, headers=reporter.headers)
    assert shown.call_and_validate().status_code == 200


def test_login_phone_and_subscriptions_answer_as_documented(app):
    schema = load_schema(app)
    login = schema["/api/v1/auth/wechat"]["POST"].Case(body={"code": "dev-fuzz"}).call_and_validate()
    assert login.status_code == 200
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    phone = schema["/api/v1/auth/phone"]["POST"].Case(body={"code": "phone-13800138000"}, headers=bearer)
    assert phone.call_and_validate().status_code == 200
    assert schema["/api/v1/me"]["GET"].Case(headers=bearer).call_and_validate().json()["phone_verified"] is True
    granted = schema["/api/v1/subscriptions"]["POST"].Case(body={"template_ids": [TEMPLATE]}, headers=bearer)
    assert granted.call_and_validate().status_code == 200
