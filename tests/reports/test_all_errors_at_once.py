"""The JSON API also reports every error in one answer (schema-level checks run beside field errors)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ReporterLogin
from tests.factories import report_body


def test_an_api_report_with_a_missing_gender_and_an_adult_age_names_both(client: Any, reporter: ReporterLogin) -> None:
    body = report_body(victim={"age": 19})
    del body["victim"]["gender"]

    response = client.post("/api/v1/reports", json=body, headers=reporter.headers)

    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"victim.gender", "victim.age"}


def test_an_api_report_without_the_police_section_is_still_accepted(client: Any, reporter: ReporterLogin) -> None:
    body = report_body()
    del body["police"]

    response = client.post("/api/v1/reports", json=body, headers=reporter.headers)

    assert response.status_code == 201
