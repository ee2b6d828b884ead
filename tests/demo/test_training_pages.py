"""``/training/`` (CONTRACT.md "Training"): the trainer resets the data from a form and watches a progress page
that works without JavaScript; every session ends and the login page says why; the printable sheet holds every
account's user name, password and the QR code of its ``otpauth://`` URI. The trainer sees nothing of any report,
nobody else sees these pages, and a deployment that is not a training one has none of them."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.auth import permissions
from app.auth.models import StaffSession
from app.demo import reset
from app.extensions import db
from app.reports.models import Report
from tests.factories import create_report, create_staff

PROGRESS = re.compile(r"^/training/reset/([0-9a-f]{16})$")


def start_reset(trainer) -> str:
    answer = trainer.post("/training/reset", form_page="/training/")
    assert answer.status_code == 303, answer.status_code
    match = PROGRESS.match(answer.headers["Location"])
    assert match, answer.headers["Location"]
    return match[1]


def finished(job_id: str) -> None:
    assert reset.wait(job_id, timeout=300), "the reset did not finish"
    db.session.expire_all()


def test_the_training_page_has_the_reset_form_and_the_link_to_the_accounts_sheet(desk):
    page = desk("demo.trainer").client.get("/training/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    form = re.search(r'<form method="post" action="/training/reset" data-action="reset">(.*?)</form>', html, re.S)
    assert form
    assert 'name="csrf_token"' in form[1]
    assert 'href="/training/accounts"' in html
    assert '<a href="/training/" aria-current="page">培训管理</a>' in html


def test_a_reset_from_the_page_ends_every_session_and_the_login_page_says_why(desk):
    trainer, prosecutor = desk("demo.trainer"), desk("demo.prosecutor")
    practice = create_report(training=True).tracking_no
    db.session.commit()

    job_id = start_reset(trainer)
    finished(job_id)

    assert practice not in db.session.scalars(select(Report.tracking_no)).all()
    for person, page in ((trainer, f"/training/reset/{job_id}"), (prosecutor, "/review/")):
        sent = person.client.get(page)
        assert sent.status_code == 303
        assert sent.headers["Location"].startswith("/login?next=")
        login = person.client.get(sent.headers["Location"]).get_data(as_text=True)
        notice = re.search(r'data-field="session_ended">([^<]+)<', login)
        assert notice, login[:2000]
        assert "培训数据已重置" in notice[1]
    # The same printed credentials log in again, and the trainer comes back to the finished job.
    again = trainer.log_in(next_url=f"/training/reset/{job_id}", offset=1)
    assert (again.status_code, again.headers["Location"]) == (303, f"/training/reset/{job_id}")
    done = trainer.client.get(f"/training/reset/{job_id}").get_data(as_text=True)
    assert 'data-state="done"' in done
    assert 'data-field="reset_done"' in done
    assert "http-equiv=\"refresh\"" not in done
    assert prosecutor.log_in(offset=1).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "training.reset", AuditEntry.actor_role == "trainer")) == 1


def test_the_progress_page_refreshes_itself_while_the_job_runs_and_its_status_answers_json(desk, training_app):
    trainer = desk("demo.trainer")
    settings = training_app.config["QZBG"]
    lock = reset._lock(settings)  # a reset of another worker process holds the host's lock
    try:
        tracker = reset._Tracker(settings, "0123456789abcdef", dt.datetime.now(dt.UTC))
        tracker("restore", 50, 100)
        tracker.write()
        page = trainer.client.get("/training/reset/0123456789abcdef")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert '<noscript><meta http-equiv="refresh" content="1"></noscript>' in html
        assert re.search(r'<progress id="reset-progress" max="100" value="56">56%</progress>', html)
        assert "正在恢复演示数据" in html
        status = trainer.client.get("/training/reset/0123456789abcdef/status")
        assert status.status_code == 200
        assert status.json == {"state": "running", "percent": 56, "label": "正在恢复演示数据"}
        # A second reset asked for meanwhile goes to the running one's page.
        again = trainer.post("/training/reset", form_page="/training/")
        assert (again.status_code, again.headers["Location"]) == (303, "/training/reset/0123456789abcdef")
        assert trainer.client.get("/training/reset/fedcba9876543210").status_code == 404
    finally:
        reset._unlock(lock)
    # Its process gone (nobody holds the lock), the job that says it runs is reported as failed.
    cut = trainer.client.get("/training/reset/0123456789abcdef").get_data(as_text=True)
    assert 'data-state="failed"' in cut
    assert 'data-field="reset_failed"' in cut


def test_the_reset_needs_a_recent_second_factor_and_is_carried_out_after_it(desk):
    trainer = desk("demo.trainer")
    db.session.execute(update(StaffSession).values(stepped_up_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)))
    db.session.commit()
    held = trainer.post("/training/reset", {"next": "/training/"}, form_page="/training/")
    assert (held.status_code, held.headers["Location"]) == (303, "/account/step-up?next=%2Ftraining%2F")
    assert reset.status(trainer.client.application.config["QZBG"]) is None  # nothing started yet
    asking = trainer.client.get(held.headers["Location"]).get_data(as_text=True)
    assert "重置培训数据" in asking
    done = trainer.post("/account/step-up", {"otp": trainer.code(1), "next": "/training/"},
                        form_page="/account/step-up?next=/training/")
    assert done.status_code == 303
    match = PROGRESS.match(done.headers["Location"])
    assert match, done.headers["Location"]
    finished(match[1])


def test_the_accounts_sheet_has_every_accounts_name_password_and_the_qr_code_of_its_otpauth_uri(desk, seeded):
    trainer = desk("demo.trainer")
    page = trainer.client.get("/training/accounts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for username, (password, secret, _role) in seeded.items():
        card = re.search(rf'<article class="account-card" data-username="{re.escape(username)}">(.*?)</article>',
                         html, re.S)
        assert card, username
        assert f'data-field="password">{password}<' in card[1]
        if secret == "-":
            assert "<svg" not in card[1]
        else:
            assert re.search(r'<svg viewBox="0 0 \d+ \d+" role="img" aria-label="[^"]+"', card[1]), username
            assert secret not in card[1]  # only inside the QR code, never as text (or a URL) on the page
    assert "<img" not in html
    assert "http" not in html.split("login_url")[0].split("<body")[1]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "training.accounts_sheet")) == 1


def test_the_qr_code_on_the_sheet_is_the_accounts_otpauth_uri(training_app, seeded):
    """Decoded the way a phone does it: the code's modules are those of the URI an authenticator app takes."""
    import qrcode

    from app.demo import sheet
    from app.demo.accounts import demo_accounts

    account = next(a for a in demo_accounts(training_app.config["QZBG"].secret_key) if a.username == "demo.lead")
    assert account.otpauth_uri == (f"otpauth://totp/%E5%BC%BA%E5%88%B6%E6%8A%A5%E5%91%8A:demo.lead?"
                                   f"secret={seeded['demo.lead'][1]}&issuer=%E5%BC%BA%E5%88%B6%E6%8A%A5%E5%91%8A")
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    expected.add_data(account.otpauth_uri)
    matrix = expected.get_matrix()
    drawn = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", str(sheet.qr_svg(account.otpauth_uri, "x")))}
    assert drawn == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def test_the_trainer_sees_nothing_of_any_report_and_no_other_role_sees_the_training_pages(desk, training_app):
    trainer = desk("demo.trainer")
    report = db.session.scalars(select(Report).limit(1)).one()
    for path in ("/review/", f"/review/reports/{report.id}", "/review/stats", "/admin/users", "/admin/audit",
                 "/admin/sandbox", "/unit/"):
        assert trainer.client.get(path).status_code == 403, path
    assert permissions.ROLE_PERMISSIONS["trainer"] == {"account", "training", "training.reset", "training.accounts"}
    for username in ("demo.admin", "demo.lead", "demo.prosecutor", "demo.police", "demo.liaison"):
        other = desk(username)
        for method, path in (("GET", "/training/"), ("GET", "/training/accounts"), ("POST", "/training/reset")):
            answer = other.client.open(path, method=method, data={"csrf_token": "x"} if method == "POST" else None)
            assert answer.status_code in ((403,) if method == "GET" else (400, 403)), (username, path)
    assert reset.status(training_app.config["QZBG"]) is None


def test_every_training_route_declares_its_permission(training_app):
    rules = [rule for rule in training_app.url_map.iter_rules() if rule.rule.startswith("/training")]
    assert {rule.rule for rule in rules} == {"/training/", "/training/reset", "/training/reset/<job_id>",
                                             "/training/reset/<job_id>/status", "/training/accounts"}
    for rule in rules:
        assert training_app.view_functions[rule.endpoint].qzbg_permission in permissions.ALL_PERMISSIONS
    assert {"training.reset", "training.accounts"} <= permissions.SENSITIVE


def test_a_deployment_that_is_not_a_training_one_has_no_training_pages_and_no_trainer(app, client):
    assert client.get("/training/").status_code == 404
    assert client.get("/training/accounts").status_code == 404
    admin = create_staff(role="admin")
    db.session.commit()
    from tests.auth.conftest import login

    assert login(client, admin).status_code == 303
    new_form = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="trainer"' not in new_form
    assert 'value="prosecutor"' in new_form


def test_the_new_account_form_of_a_training_deployment_offers_the_trainer_role(desk):
    admin = desk("demo.admin")
    form = admin.client.get("/admin/users/new").get_data(as_text=True)
    assert re.search(r'<option value="trainer"[^>]*>培训管理员</option>', form)
    made = admin.post("/admin/users/new", {"username": "trainer.two", "display_name": "培训员二", "role": "trainer"},
                      form_page="/admin/users/new")
    assert (made.status_code, made.headers["Location"]) == (303, "/admin/users/trainer.two")


def test_flask_users_create_refuses_the_trainer_role_outside_a_training_deployment(app, runner):
    result = runner.invoke(args=["users", "create", "someone", "--role", "trainer"],
                           input="Peixun-Trainer-2026-xy\nPeixun-Trainer-2026-xy\n")
    assert result.exit_code != 0
    assert "角色应为" in result.output


def test_the_login_page_says_why_a_session_ended_for_other_reasons_too(desk):
    prosecutor = desk("demo.prosecutor")
    db.session.execute(update(StaffSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
    db.session.commit()
    sent = prosecutor.client.get("/review/")
    login = prosecutor.client.get(sent.headers["Location"]).get_data(as_text=True)
    assert re.search(r'data-field="session_ended">[^<]*较长时间没有操作', login)
    fresh = prosecutor.client.application.test_client().get("/login").get_data(as_text=True)
    assert "session_ended" not in fresh  # a browser without an ended session's cookie is told nothing


def test_the_status_json_of_a_job_names_nothing_but_its_progress(desk, training_app):
    trainer = desk("demo.trainer")
    job_id = start_reset(trainer)
    finished(job_id)
    trainer.log_in(offset=1)
    body = trainer.client.get(f"/training/reset/{job_id}/status").get_data(as_text=True)
    assert json.loads(body) == {"state": "done", "percent": 100, "label": "培训数据已重置"}
