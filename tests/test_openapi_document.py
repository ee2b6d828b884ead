"""The OpenAPI document states the contract: valid OpenAPI 3.0 by openapi-spec-validator, an operationId per
view, the errors each operation can give (with the envelope, Retry-After and WWW-Authenticate), and every rule
of every input field, so that what the document calls valid the code takes, and what the code refuses the
document refuses too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from app.core.fields import clean_text, text_pattern
from tests.factories import report_body

API_SCHEMA_PATH = "/api/v1/openapi.json"
# (method, path) -> (operationId, the error statuses the operation documents): what each view can answer.
OPERATIONS = {
    ("post", "/api/v1/auth/wechat"): ("login_wechat", {400, 401, 413, 415, 422, 429, 503}),
    ("post", "/api/v1/auth/logout"): ("logout", {401, 503}),
    ("post", "/api/v1/auth/phone"): ("verify_phone", {400, 401, 413, 415, 422, 429, 503}),
    ("get", "/api/v1/me"): ("get_me", {401, 503}),
    ("get", "/api/v1/categories"): ("list_categories", set()),
    ("get", "/api/v1/districts"): ("list_districts", {503}),
    ("get", "/api/v1/units"): ("list_units", {422, 503}),
    ("get", "/api/v1/units/scene/{scene}"): ("resolve_scene", {404, 503}),
    ("post", "/api/v1/reports"): ("create_report", {400, 401, 413, 415, 422, 429, 503}),
    ("post", "/api/v1/institutional/reports"): ("create_institutional_report", {400, 401, 413, 415, 422, 429, 503}),
    ("get", "/api/v1/reports"): ("list_reports", {401, 422, 503}),
    ("get", "/api/v1/reports/{report_id}"): ("get_report", {401, 404, 503}),
    ("post", "/api/v1/reports/{report_id}/attachments"): ("upload_attachment", {401, 404, 409, 413, 415, 422, 503}),
    ("post", "/api/v1/reports/{report_id}/answers"): ("answer_question", {400, 401, 404, 409, 413, 415, 422, 503}),
    ("post", "/api/v1/subscriptions"): ("record_subscriptions", {400, 401, 413, 415, 422, 503}),
}


# The envelope's ``code`` for each status (CONTRACT.md).
ERROR_CODES = {
    400: ["bad_request"], 401: ["unauthorized"], 404: ["not_found"], 409: ["conflict"], 413: ["payload_too_large"],
    415: ["unsupported_media_type"], 422: ["validation_error"], 429: ["rate_limited"],
    503: ["upstream_unavailable", "service_unavailable"],
}


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get(API_SCHEMA_PATH)
    assert response.status_code == 200
    return response.json


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, p): op for p, item in document["paths"].items() for m, op in item.items() if m != "parameters"}


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def schema_validator(document: dict[str, Any], name: str) -> OAS30Validator:
    return OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})


def test_the_document_passes_openapi_spec_validator(document):
    validate(document)  # raises with the first violation of OpenAPI 3.0
    assert document["openapi"] == "3.0.3"


def test_every_operation_is_named_after_its_view(document):
    assert {key: op.get("operationId") for key, op in operations(document).items()} == {
        key: operation_id for key, (operation_id, _) in OPERATIONS.items()
    }


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS), ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_each_operation_documents_the_errors_it_can_give_and_no_default(document, method, path):
    responses = operations(document)[(method, path)]["responses"]
    assert "default" not in responses, "a default response would let any status pass as documented"
    errors = {int(status) for status in responses if int(status) >= 400}
    assert errors == OPERATIONS[(method, path)][1]
    for status in errors:
        response = resolve(document, responses[str(status)])
        error = response["content"]["application/json"]["schema"]["properties"]["error"]
        assert error["allOf"] == [{"$ref": "#/components/schemas/ErrorBody"}]
        assert error["properties"]["code"]["enum"] == ERROR_CODES[status]
        assert ("fields" in error.get("required", [])) is (status == 422)
        assert re.search(r"[\u4e00-\u9fff]", response["description"])
        headers = response.get("headers", {})
        if status in (429, 503):
            assert headers["Retry-After"]["required"] is True
            assert headers["Retry-After"]["schema"]["type"] == "integer"
        else:
            assert "Retry-After" not in headers, "only 429 and 503 carry Retry-After"
        if status == 401:
            assert "WWW-Authenticate" in headers


def test_the_error_envelope_lists_every_error_code(document):
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]["code"]["enum"]) >= {
        "bad_request", "unsupported_media_type", "validation_error", "unauthorized", "not_found", "conflict",
        "payload_too_large", "rate_limited", "upstream_unavailable", "service_unavailable", "internal_error",
    }
    assert body["additionalProperties"] is False


def input_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: schema for name, schema in document["components"]["schemas"].items() if name.endswith("In")}


def test_every_input_object_is_closed_and_every_section_is_its_own_schema(document):
    for name, schema in input_schemas(document).items():
        assert schema["additionalProperties"] is False, name
        for field, prop in schema["properties"].items():
            for part in prop.get("anyOf", [prop]):
                if part.get("type") == "object":
                    assert part.get("enum") == [None], f"{name}.{field} is documented as any object"
    report = document["components"]["schemas"]["ReportIn"]["properties"]
    for section in ("suspect", "police"):
        assert report[section]["anyOf"] == [
            {"$ref": f"#/components/schemas/{section.title()}In"}, {"type": "object", "nullable": True, "enum": [None]}
        ]


def test_every_input_string_and_number_states_its_limits(document):
    for name, schema in input_schemas(document).items():
        for field, prop in schema["properties"].items():
            if prop.get("type") == "array":
                assert {"minItems", "maxItems"} <= set(prop), f"{name}.{field}"
                prop = prop["items"]
            if prop.get("type") == "string" and "enum" not in prop and prop.get("format") not in ("uuid", "binary"):
                bounded = "maxLength" in prop or prop.get("pattern", "").endswith("$")
                assert bounded, f"{name}.{field} has no length limit"
                # What cleaning must leave: stated unless a blank value is as good as none.
                assert "pattern" in prop or prop.get("nullable"), f"{name}.{field} has no pattern"
            if prop.get("type") == "integer":
                assert {"minimum", "maximum"} <= set(prop), f"{name}.{field}"
    categories = document["components"]["schemas"]["ReportIn"]["properties"]["categories"]
    assert (categories["minItems"], categories["maxItems"], categories["uniqueItems"]) == (1, 9, True)
    limit = next(p for p in operations(document)[("get", "/api/v1/reports")]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 50)


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        pytest.param("CodeIn", {"code": ""}, id="empty-code"),
        pytest.param("CodeIn", {"code": "dev-a\x00b"}, id="code-with-nul"),
        pytest.param("CodeIn", {"code": "dev-a b"}, id="code-with-space"),
        pytest.param("CodeIn", {"code": "c" * 129}, id="code-129-chars"),
        pytest.param("CodeIn", {"code": "dev-a", "openid": "o-1"}, id="code-unknown-field"),
        pytest.param("ReportIn", report_body(categories=[]), id="no-category"),
        pytest.param("ReportIn", report_body(categories=["abuse_injury", "abuse_injury"]), id="repeated-category"),
        pytest.param("ReportIn", report_body(suspect={"nickname": "x"}), id="unknown-suspect-field"),
        pytest.param("ReportIn", report_body(police={"notified": "yes"}), id="police-notified-not-boolean"),
        pytest.param("ReportIn", report_body(reporter={"name": " \u200b\x00 "}), id="name-only-invisible"),
        pytest.param("ReportIn", report_body(reporter={"name": "王" * 51}), id="name-51-chars"),
        pytest.param("ReportIn", report_body(reporter={"phone": "12800000000"}), id="phone-not-1-3-to-9"),
        pytest.param("ReportIn", report_body(victim={"age": 18}), id="age-18"),
        pytest.param("ReportIn", report_body(victim={"id_number": "12345"}), id="id-number-shape"),
        pytest.param("ReportIn", report_body(unit_id=2**31), id="unit-id-beyond-int32"),
        pytest.param("ReportIn", report_body(incident={"description": "太短了\x00\x00\x00\x00\x00\x00\x00"}),
                     id="description-short-once-cleaned"),
        pytest.param("ReportIn", report_body(incident={"discovered_at": "2026-01-05 10:30:00+08:00"}),
                     id="date-time-with-space"),
        pytest.param("ReportIn", report_body(incident={"discovered_at": "2026-01-05T10:30:00"}), id="naive-time"),
        pytest.param("AnswerIn", {"question_id": str(uuid.UUID(int=7)), "text": " \u200b\x00 "}, id="answer-blank"),
        pytest.param("AnswerIn", {"question_id": str(uuid.UUID(int=7)), "text": "字" * 5001}, id="answer-5001-chars"),
        pytest.param("AnswerIn", {"text": "答复"}, id="answer-without-question"),
        pytest.param("SubscriptionsIn", {"template_ids": []}, id="no-template"),
        pytest.param("SubscriptionsIn", {"template_ids": ["t"] * 21}, id="21-templates"),
    ],
)
def test_the_document_refuses_what_the_code_refuses(document, schema, body):
    assert not schema_validator(document, schema).is_valid(body)


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        pytest.param("CodeIn", {"code": "dev-someone"}, id="login-code"),
        pytest.param("ReportIn", report_body(), id="report"),
        pytest.param("ReportIn", report_body(suspect=None, police=None), id="report-without-optional-sections"),
        pytest.param("ReportIn", report_body(victim={"name": " ", "address": "\u200b"}), id="blank-optional-texts"),
        pytest.param("ReportIn", report_body(incident={"description": "接诊时发现\r\n多处淤伤。\U0001f622"}),
                     id="multiline-emoji-description"),
        pytest.param("ReportIn", report_body(reporter={"phone": "0571-88888888"}), id="landline"),
        pytest.param("SubscriptionsIn", {"template_ids": ["TPL", "TPL"]}, id="a-template-twice"),
        pytest.param("AnswerIn", {"question_id": str(uuid.UUID(int=7)), "text": "在实验小学\r\n三年级"}, id="answer"),
    ],
)
def test_the_document_takes_what_the_code_takes(document, schema, body):
    errors = [error.message for error in schema_validator(document, schema).iter_errors(body)]
    assert errors == []


# Lone surrogates (only a JSON escape can send them) and a lone \r (read as a line break) are the two
# things the patterns cannot state; everything else the text fields drop, keep or strip is here.
TEXT = st.lists(
    st.one_of(
        st.sampled_from(list(" \t\n\x00\x07\x1b\x7f\x85\xa0\u200b\u200d\u202e\u2028\u3000\ufeff\ue000\U000f0001a")
                        + ["\r\n"]),
        st.characters(exclude_categories=("Cs",), exclude_characters="\r"),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(value=TEXT, min_length=st.integers(1, 6), multiline=st.booleans(), blank_allowed=st.booleans())
def test_a_text_pattern_holds_exactly_when_cleaning_leaves_enough(value, min_length, multiline, blank_allowed):
    cleaned = clean_text(value, multiline=multiline)
    pattern = text_pattern(min_length, blank_allowed=blank_allowed)
    matches = True if pattern is None else re.search(pattern, value) is not None
    assert matches == (len(cleaned) >= min_length or (blank_allowed and not cleaned))
