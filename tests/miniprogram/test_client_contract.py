"""The mini-program keeps the contract: every call it makes (miniprogram/api/paths.js) is an operation of
/api/v1/openapi.json with the same authentication, and its field hints (miniprogram/api/rules.js) are the
schema's own limits, so the client and the server cannot drift apart. ``node`` prints the client's tables."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MINIPROGRAM = Path(__file__).resolve().parents[2] / "miniprogram"
LIMITS = ("maxLength", "minLength", "minimum", "maximum", "minItems", "maxItems", "enum")
# Schema fields the client does not ask for (so it has no hint for them): it sends null.
NOT_ASKED = {("IncidentIn", "occurred_at"), ("PoliceIn", "notified_at"), ("ReportIn", "district_code"),
             ("ReportIn", "unit_id")}


@pytest.fixture(scope="module")
def client_tables() -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is needed for the mini-program's tests (make test installs its packages with it)"
    out = subprocess.run([node, "scripts/contract.js"], cwd=MINIPROGRAM, capture_output=True, text=True,
                         check=True, timeout=60)
    tables: dict[str, Any] = json.loads(out.stdout)
    return tables


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").json
    return document


def test_every_call_the_client_makes_is_an_operation_of_the_document(client_tables, document):
    for name, call in client_tables["paths"].items():
        item = document["paths"].get(call["path"])
        assert item is not None, f"{name}: {call['path']} is not in the OpenAPI document"
        operation = item.get(call["method"].lower())
        assert operation is not None, f"{name}: {call['method']} {call['path']} is not an operation"
        assert bool(operation.get("security")) == call["auth"], f"{name}: bearer authentication differs"
        if call.get("upload"):
            assert "multipart/form-data" in operation["requestBody"]["content"], f"{name} is not a file upload"


def test_the_client_calls_every_operation_a_reporter_needs(client_tables):
    called = {(c["method"], c["path"]) for c in client_tables["paths"].values()}
    needed = {
        ("POST", "/api/v1/auth/wechat"), ("POST", "/api/v1/auth/phone"), ("POST", "/api/v1/reports"),
        ("POST", "/api/v1/reports/{report_id}/attachments"), ("POST", "/api/v1/reports/{report_id}/answers"),
        ("GET", "/api/v1/reports"), ("GET", "/api/v1/reports/{report_id}"), ("POST", "/api/v1/subscriptions"),
        ("GET", "/api/v1/units/scene/{scene}"), ("GET", "/api/v1/districts"), ("GET", "/api/v1/categories"),
    }
    assert needed <= called


def test_the_client_field_rules_are_the_schema_limits(client_tables, document):
    schemas = document["components"]["schemas"]
    for path, rule in client_tables["rules"].items():
        schema = schemas[rule["schema"]]
        prop = schema["properties"].get(rule["name"])
        assert prop is not None, f"{path}: {rule['schema']} has no property {rule['name']}"
        expected = {key: prop[key] for key in LIMITS if key in prop}
        if prop.get("type") == "array":
            expected.pop("enum", None)  # the categories' codes come from GET /api/v1/categories
        given = {key: rule[key] for key in LIMITS if key in rule}
        assert given == expected, f"{path}: the client's limits {given} differ from the schema's {expected}"
        assert bool(rule.get("required")) == (rule["name"] in schema.get("required", [])), f"{path}: required differs"
        if "pattern" in rule:
            assert rule["pattern"].strip("^$") in prop["pattern"], f"{path}: pattern differs from {prop['pattern']}"


def test_every_limited_input_field_has_a_client_rule(client_tables, document):
    schemas = document["components"]["schemas"]
    ruled = {(r["schema"], r["name"]) for r in client_tables["rules"].values()}
    limited = {
        (name, field)
        for name in ("ReportIn", "ReporterIn", "VictimIn", "IncidentIn", "SuspectIn", "PoliceIn", "AnswerIn")
        for field, prop in schemas[name]["properties"].items()
        if any(key in prop for key in (*LIMITS, "pattern")) or field in schemas[name].get("required", [])
    }
    missing = limited - ruled - NOT_ASKED - {("ReportIn", "client_id"), ("ReportIn", "reporter"),
                                             ("ReportIn", "victim"), ("ReportIn", "incident"),
                                             ("PoliceIn", "notified"), ("AnswerIn", "question_id")}
    assert not missing, f"fields with server rules but no client hint: {sorted(missing)}"
