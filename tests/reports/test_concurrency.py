"""Parallel submissions: unique tracking numbers and exactly-once idempotency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app.extensions import db
from app.reports.models import Report
from tests.conftest import login_reporter
from tests.factories import report_body

PARALLEL = 12


def _submit_all(app, bodies, tokens):
    db.session.rollback()  # the test's own session must hold no transaction (SQLite: no lock)
    barrier = threading.Barrier(len(bodies))

    def submit(i):
        client = app.test_client()
        barrier.wait()
        return client.post("/api/v1/reports", json=bodies[i], headers={"Authorization": f"Bearer {tokens[i]}"})

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(submit, range(len(bodies))))


def test_reports_submitted_at_the_same_instant_get_distinct_consecutive_numbers(app):
    tokens = [login_reporter(f"o-parallel-{i}").token for i in range(PARALLEL)]
    responses = _submit_all(app, [report_body() for _ in range(PARALLEL)], tokens)
    assert [r.status_code for r in responses] == [201] * PARALLEL
    numbers = sorted(r.json["tracking_no"] for r in responses)
    assert len(set(numbers)) == PARALLEL
    assert [int(n[-6:]) for n in numbers] == list(range(1, PARALLEL + 1))


def test_the_same_client_id_sent_in_parallel_stores_one_report(app):
    login = login_reporter("o-double-tap")
    body = report_body()
    responses = _submit_all(app, [body] * 6, [login.token] * 6)
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json["id"] for r in responses}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1


def test_parallel_submissions_and_reads_all_succeed_with_unique_numbers(app):
    readers = login_reporter("o-parallel-reader")
    first = app.test_client().post("/api/v1/reports", json=report_body(), headers=readers.headers)
    assert first.status_code == 201
    tokens = [login_reporter(f"o-mixed-{i}").token for i in range(PARALLEL // 2)]
    db.session.rollback()
    barrier = threading.Barrier(PARALLEL)

    def act(i):
        client = app.test_client()
        barrier.wait()
        if i % 2:
            return client.get("/api/v1/reports", headers=readers.headers)
        return client.post(
            "/api/v1/reports", json=report_body(), headers={"Authorization": f"Bearer {tokens[i // 2]}"}
        )

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        responses = list(pool.map(act, range(PARALLEL)))
    assert [r.status_code for r in responses] == [201, 200] * (PARALLEL // 2)
    numbers = [r.json["tracking_no"] for r in responses if r.status_code == 201]
    assert len(set(numbers)) == len(numbers) == PARALLEL // 2
    assert all(r.json["items"][-1]["id"] == first.json["id"] for r in responses if r.status_code == 200)
