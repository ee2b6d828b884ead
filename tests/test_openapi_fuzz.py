"""The OpenAPI document is valid OpenAPI 3, lists the contract's paths, and the API keeps to it under fuzzing.

schemathesis generates requests from the document (schema-valid ones, then schema-breaking ones) and checks
every answer: never a 500, a documented status, content type and body, and schema-breaking input refused.
``positive_data_acceptance`` is left out on purpose: the document cannot state every rule of the report body
(check digits, "not in the future", age against ID number), so schema-valid input may rightly get a
documented 422.

``schemathesis.pytest.from_fixture`` (4.32.5) sets ``request.node._nodeid``, which pytest 9 no longer has,
so each operation's strategy is driven by Hypothesis directly.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from app.wechat.fake import FakeWeChat
from tests.conftest import RELAXED_LIMIT, ReporterLogin
from tests.factories import report_body
from tests.wechat.conftest import TEMPLATE, wechat_settings

API_SCHEMA_PATH = "/api/v1/openapi.json"
# Every /api/v1 row of CONTRACT.md's table, as the document spells it.
CONTRACT_OPERATIONS = [
    ("post", "/api/v1/auth/wechat"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/phone"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/units"),
    ("get", "/api/v1/units/scene/{scene}"),
    ("post", "/api/v1/reports"),
    ("post", "/api/v1/reports/{report_id}/attachments"),
    ("get", "/api/v1/reports"),
    ("get", "/api/v1/reports/{report_id}"),
    ("post", "/api/v1/subscriptions"),
]
# Everything the document lists: the contract's operations and the reporter's own profile.
FUZZED = [*CONTRACT_OPERATIONS, ("get", "/api/v1/me")]
OPEN_OPERATIONS = {
    ("post", "/api/v1/auth/wechat"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/units"),
    ("get", "/api/v1/units/scene/{scene}"),
}
# Operations with no parameter or body to break cannot be fuzzed negatively.
NOTHING_TO_BREAK = {
    ("get", "/api/v1/categories"), ("get", "/api/v1/units/scene/{scene}"), ("get", "/api/v1/me"),
    ("post", "/api/v1/auth/logout"),
}
FUZZ_SETTINGS = settings(
    max_examples=15,
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


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [
        pytest.param(m, p, mode, id=f"{m.upper()} {p} {mode.value}")
        for m, p in FUZZED
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if not (mode is GenerationMode.NEGATIVE and (m, p) in NOTHING_TO_BREAK)
    ],
)
def test_generated_requests_get_documented_answers_and_never_a_500(app, client, reporter, unit, method, path, mode):
    operation = load_schema(app)[path][method.upper()]
    # A unit and an own report exist, so that lists are not empty and success answers are checked too.
    report_id = own_report_id(client, reporter)
    path_parameters = {"report_id": report_id} if "{report_id}" in path and mode is GenerationMode.POSITIVE else None
    strategy = operation.as_strategy(generation_mode=mode, headers=reporter.headers, path_parameters=path_parameters)

    @given(case=strategy)
    @FUZZ_SETTINGS
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    check()


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
