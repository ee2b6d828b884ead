"""The staff side keeps secrets sealed or hashed: TOTP secrets, recovery codes, mobile numbers, passwords and
session tokens never stand in clear in the database or the logs, and audit entries carry no personal data."""

from __future__ import annotations

import re

from app.auth import service
from app.extensions import db
from tests.auth.conftest import login, post, totp_now
from tests.factories import STAFF_PASSWORD, create_staff
from tests.test_no_plaintext import find_leaks, phone_marker, storage_bytes


def test_staff_secrets_never_reach_the_database_or_the_logs_in_clear(app, backend_name, caplog, capfd):
    mobile = phone_marker()
    user = create_staff(enrolled=False)
    user.seal("mobile_data", mobile)
    db.session.commit()
    client = app.test_client()
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    secret = re.search(r'data-field="totp_secret">([A-Z2-7]+)<', client.get("/login/enrol").text).group(1)
    post(client, "/login/enrol", {"otp": totp_now(secret)})
    codes = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", client.get("/account/recovery-codes").text)
    token = next(c.value for c in client._cookies.values() if c.key == "qzbg_staff")
    assert len(codes) == 10
    other = app.test_client()
    assert login(other, user, step=1).status_code == 303
    service.new_recovery_codes(user)
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    markers = [mobile, secret, token, STAFF_PASSWORD, *codes, *(c.replace("-", "") for c in codes)]
    logs = "\n".join(r.getMessage() + str(vars(r)) for r in caplog.records) + "".join(capfd.readouterr())
    leaks = find_leaks({"database": storage_bytes(app, backend_name), "logs": logs.encode("utf-8")}, markers)
    assert leaks == []


def test_the_leak_search_finds_a_secret_stored_in_clear(app, backend_name):
    user = create_staff()
    user.wecom_userid = "clear-secret-ABCDEF123"  # a column in clear, on purpose
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    assert find_leaks({"database": storage_bytes(app, backend_name)}, ["clear-secret-ABCDEF123"]) != []
