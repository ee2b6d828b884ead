"""What one submission costs the database and the schema layer: counted, never timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import marshmallow
import pytest
from sqlalchemy import event

from app.extensions import db
from app.reports.tracking import counter_engine
from tests.factories import report_body

REPORTS = "/api/v1/reports"
# A first submission from a unit: token, idempotency key, unit, number, savepoint, data key, report,
# categories, first event, release, the reporter's unit, the staff on duty (one query, roster and users) and the
# outbox rows that tell them (one insert). BEGIN and COMMIT are not counted.
MAX_STATEMENTS_PER_SUBMISSION = 13


@contextmanager
def statements(backend_name: str) -> Iterator[list[str]]:
    """Statements sent on the app's engines meanwhile (the tracking-number engine too on PostgreSQL)."""
    seen: list[str] = []
    engines = [db.engine, *([counter_engine()] if backend_name == "postgresql" else [])]

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split()[0] not in ("BEGIN", "COMMIT"):
            seen.append(" ".join(statement.split()))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


@contextmanager
def schema_instances() -> Iterator[list[str]]:
    built: list[str] = []
    original = marshmallow.Schema.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    marshmallow.Schema.__init__ = counting
    try:
        yield built
    finally:
        marshmallow.Schema.__init__ = original


@pytest.fixture
def warm(client, reporter, unit):
    """The app's first request also checks the keyring; the unit's id is read before counting."""
    client.get("/api/v1/me", headers=reporter.headers)
    unit_id = unit.id
    db.session.rollback()
    return unit_id


def test_a_submission_sends_a_bounded_number_of_statements(client, reporter, warm, backend_name):
    with statements(backend_name) as sent:
        created = client.post(REPORTS, json=report_body(unit_id=warm), headers=reporter.headers)
    assert created.status_code == 201
    assert len(sent) <= MAX_STATEMENTS_PER_SUBMISSION, "\n".join(sent)


def test_the_bearer_token_is_one_look_up_that_leaves_the_data_key_alone(client, reporter, warm, backend_name):
    with statements(backend_name) as sent:
        listed = client.get(REPORTS, headers=reporter.headers)
    assert listed.status_code == 200
    token_lookup, page = sent
    assert "reporter_sessions.token_hash" in token_lookup
    assert "data_keys" not in token_lookup
    assert "data_keys" not in page
    assert "_data" not in page


def test_the_idempotency_check_reads_only_the_id_and_a_repeat_loads_the_report_once(
    client, reporter, warm, backend_name
):
    body = report_body()
    with statements(backend_name) as first:
        assert client.post(REPORTS, json=body, headers=reporter.headers).status_code == 201
    check = next(s for s in first if "reports.client_key" in s)
    assert check.startswith("SELECT reports.id FROM reports WHERE")

    with statements(backend_name) as repeat:
        again = client.post(REPORTS, json=body, headers=reporter.headers)
    assert again.status_code == 200
    # token, key, the stored report: no unit, no number, no insert
    assert len(repeat) == 3, "\n".join(repeat)


def test_a_request_builds_no_schema_instance(client, reporter, warm):
    client.post(REPORTS, json=report_body(), headers=reporter.headers)  # nested schemas are made at first use
    with schema_instances() as built:
        created = client.post(REPORTS, json=report_body(), headers=reporter.headers)
        listed = client.get(REPORTS, headers=reporter.headers)
    assert (created.status_code, listed.status_code) == (201, 200)
    assert built == []
