"""The worker reads a batch's reports and reporters once per batch, not once per message."""

from __future__ import annotations

import uuid

from sqlalchemy import event

from app.extensions import db
from app.notify.worker import deliver_due
from app.reporters import subscriptions
from app.reports import service as reports
from tests.factories import PROSECUTOR
from tests.wechat.conftest import TEMPLATE
from tests.wechat.test_subscribe import login, now, submit


def test_a_batch_of_messages_reads_its_reports_and_reporters_in_one_statement_each(client, fake):
    headers, _ = login(client, fake)
    for _ in range(4):
        client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
        fake.grant("o-dev-carol", TEMPLATE)
    for _ in range(4):
        report = submit(client, headers)
        reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=now())
    db.session.commit()
    db.session.expunge_all()  # a worker process starts with nothing in its session

    selects: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        words = " ".join(statement.split())
        if words.startswith("SELECT"):
            selects.append(words.split(" FROM ", 1)[1].split()[0] if " FROM " in words else words)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert deliver_due(now=now()) == {"sent": 4, "retry": 0, "dead": 0}
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert selects.count("reports") == 1, selects
    assert selects.count("reporters") == 1, selects
    assert len(fake.sent) == 4


def test_a_batch_of_messages_locks_and_uses_its_grants_in_one_statement(client, fake):
    headers, reporter_id = login(client, fake)
    for _ in range(5):
        client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
        fake.grant("o-dev-carol", TEMPLATE)
    for _ in range(3):
        report = submit(client, headers)
        reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=now())
    db.session.commit()
    db.session.expunge_all()

    grant_reads: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        words = " ".join(statement.split())
        if words.startswith("SELECT") and "FROM subscription_grants" in words:
            grant_reads.append(words)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert deliver_due(now=now()) == {"sent": 3, "retry": 0, "dead": 0}
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(grant_reads) == 1, grant_reads
    assert subscriptions.remaining(uuid.UUID(reporter_id), TEMPLATE) == 2  # 5 granted, 3 used
