"""Default deny: every staff route declares a permission; every role, another office and nobody are tried."""

from __future__ import annotations

import pytest

from app.auth import permissions
from tests.auth.conftest import login
from tests.factories import create_office, create_report, create_staff

STAFF_PREFIXES = ("/review", "/admin", "/account", "/unit/")
ROLES = ["admin", "prosecutor", "lead", "police", "unit_liaison"]


def staff_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(STAFF_PREFIXES)]


def _fill(pattern: str, values: dict[str, str]) -> str:
    import re

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], pattern)


def test_every_staff_route_declares_a_permission(app):
    missing = [rule.rule for rule in staff_rules(app) if not hasattr(app.view_functions[rule.endpoint],
                                                                      "qzbg_permission")]
    assert missing == []
    assert staff_rules(app), "no staff routes found"


# Every route without a declared permission, by design: the intake side (anyone may report), the reporter API
# (its bearer token), the posters on walls, the probes, static files and the login steps. A new route is denied
# until it declares a permission or is added here on purpose.
PUBLIC_ROUTES = {
    "/static/<path:filename>", "/healthz", "/readyz", "/setup/<token>",
    "/report", "/report/receipt/<key>", "/report/status",
    "/units/<string:code>/wxacode.png", "/units/<string:code>/qrcode.png", "/units/<string:code>/poster",
    "/units/<string:code>/training-qrcode.png",
    "/login", "/login/otp", "/login/enrol", "/logout",
}


def test_every_route_declares_a_permission_or_is_public_on_purpose(app):
    unguarded = {rule.rule for rule in app.url_map.iter_rules()
                 if not rule.rule.startswith("/api/")  # the JSON API: bearer tokens (reporter_required)
                 and not hasattr(app.view_functions[rule.endpoint], "qzbg_permission")}
    assert unguarded == PUBLIC_ROUTES


def test_nobody_is_sent_to_login_from_every_staff_page(app, client):
    for rule in staff_rules(app):
        method = "GET" if "GET" in rule.methods else "POST"
        answer = client.open(_fill(rule.rule, dict.fromkeys(rule.arguments, "sample")), method=method)
        if method == "POST":
            assert answer.status_code in (303, 400), rule.rule  # CSRF first, or the login
        else:
            assert answer.status_code == 303, rule.rule
            assert answer.headers["Location"].startswith("/login?next="), rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_the_get_pages_its_permissions_allow(app, role):
    user = create_staff(role=role)
    from app.extensions import db

    db.session.commit()
    client = app.test_client()
    assert login(client, user).status_code == 303
    for rule in staff_rules(app):
        if "GET" not in rule.methods or rule.arguments:
            continue
        permission = app.view_functions[rule.endpoint].qzbg_permission
        answer = client.get(rule.rule)
        if permissions.allows(role, permission):
            assert answer.status_code in (200, 303), (role, rule.rule, answer.status_code)
            assert answer.headers["Cache-Control"] == "no-store", rule.rule
        else:
            assert answer.status_code == 403, (role, rule.rule, answer.status_code)


def test_a_prosecutor_sees_and_counts_only_the_own_offices_reports(app):
    from app.extensions import db

    north = create_office()
    mine = create_report()
    theirs = create_report(commit=False)
    theirs.office_id = north.id
    prosecutor = create_staff(role="prosecutor")
    other = create_staff(role="prosecutor", office=north)
    db.session.commit()
    mine_id, theirs_id = str(mine.id), str(theirs.id)
    client = app.test_client()
    login(client, prosecutor)
    page = client.get("/review/").text
    assert mine_id in page
    assert theirs_id not in page
    assert 'data-status-count="new">1<' in page
    other_client = app.test_client()
    login(other_client, other)
    page = other_client.get("/review/").text
    assert theirs_id in page
    assert mine_id not in page


def test_an_admin_sees_only_the_own_offices_users_and_audit(app):
    from app.extensions import db

    north = create_office()
    admin = create_staff(role="admin")
    stranger = create_staff(role="prosecutor", office=north)
    db.session.commit()
    client = app.test_client()
    login(client, admin)
    assert stranger.username not in client.get("/admin/users").text
    assert client.get(f"/admin/users/{stranger.username}/role").status_code == 404


def test_police_see_no_report_that_was_not_transferred_to_them(app):
    from app.extensions import db

    report = create_report()
    police = create_staff(role="police")
    db.session.commit()
    report_id = str(report.id)
    client = app.test_client()
    login(client, police)
    page = client.get("/review/")
    assert page.status_code == 200
    assert report_id not in page.text
