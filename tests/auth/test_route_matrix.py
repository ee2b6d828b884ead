"""Every staff route, with its path filled by real objects of one office, tried by every role of that office and
by every role of another office: a role without the route's permission gets 403 whatever the method, and a role of
another office that holds it finds nothing (404) and changes nothing. (Nobody at all: test_authorization.py.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth import permissions
from app.cases import service as cases
from app.cases.models import FiledCase
from app.core.actor import Actor
from app.core.imports import Row
from app.crypto.vault import get_vault
from app.extensions import db
from app.institutions import service as institutions
from app.notify.models import DutyShift, OutboxMessage
from app.offices.models import PoliceUnit
from app.reports import attachments
from app.reports.models import Report
from app.units import service as units
from app.units.models import Unit, UnitLiaison
from tests.auth.conftest import csrf_of, login
from tests.auth.test_authorization import ROLES, staff_rules
from tests.factories import create_office, create_report, create_staff, create_unit, valid_id_number
from tests.notify.test_outbox_admin import dead_message
from tests.review.detail_helpers import transfer
from tests.test_no_plaintext import png_with

# The path arguments that name an object of an office; ``action`` names no object.
OBJECT_ARGUMENTS = {"report_id", "attachment_id", "transfer_id", "message_id", "shift_id", "unit_id", "liaison_id",
                    "username", "code", "case_id", "institution", "key_id", "unit_code", "recommendation_id"}


@dataclasses.dataclass
class Desk:
    role: str
    client: FlaskClient
    csrf: str

    def open(self, path: str, method: str) -> Any:
        data = {"csrf_token": self.csrf} if method == "POST" else None
        return self.client.open(path, method=method, data=data)


@dataclasses.dataclass
class World:
    values: dict[str, str]  # path argument -> an object of the default office
    home: dict[str, Desk]  # role -> a logged-in user of the default office
    away: dict[str, Desk]  # role -> a logged-in user of another office


def _desk(app: Flask, role: str, user: Any) -> Desk:
    client = app.test_client()
    assert login(client, user).status_code == 303, role
    return Desk(role, client, csrf_of(client, "/account/sessions"))


@pytest.fixture
def world(app: Flask) -> World:
    police_unit = PoliceUnit(code="pcs-north", name="城北派出所", office_id=1)
    db.session.add(police_unit)
    db.session.flush()
    member = create_unit("hosp-home")
    liaison = units.add_liaison(member, {"name": "联络人甲", "phone": "13800002222"}, actor=Actor.system(),
                                now=dt.datetime.now(dt.UTC), vault=get_vault())
    home_users = {role: create_staff(role=role, police_unit=police_unit if role == "police" else None)
                  for role in ROLES}
    target = create_staff("target-user", role="prosecutor")
    report = create_report(status="reviewing", commit=False)
    image = attachments.store(report, io.BytesIO(png_with("附件像素")), "伤情照片.png",
                              directory=app.config["QZBG"].attachments_dir, max_bytes=10_000_000,
                              now=dt.datetime.now(dt.UTC), vault=get_vault())
    shift = DutyShift(office_id=1, user_id=target.id, weekdays="0123456", start_minute=0, end_minute=0,
                      channels="email")
    db.session.add(shift)
    db.session.commit()
    record = transfer(report, Actor.staff(home_users["prosecutor"]), share=True)
    message = dead_message(report)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # filing dates are China dates
    born = today.replace(year=today.year - 10)
    case_rows = [Row(2, {"case_no": "RM-1", "filed_at": today.isoformat(), "units": "hosp-home",
                         "victim_id_no": valid_id_number(born)})]
    cases.import_rows(case_rows, office_id=1, actor=Actor.system(), now=dt.datetime.now(dt.UTC), vault=get_vault())
    case = db.session.scalars(select(FiledCase)).one()
    advice = cases.record_sent(1, member, today.replace(month=1, day=1), today, 1, actor=Actor.system(),
                               now=dt.datetime.now(dt.UTC))
    key_id, _ = institutions.add("inst-home", "本院医院HIS", unit_code="hosp-home", vault=get_vault(),
                                 now=dt.datetime.now(dt.UTC), office_id=1)

    north = create_office()
    north_police = PoliceUnit(code="pcs-far", name="北区派出所", office_id=north.id)
    db.session.add(north_police)
    db.session.flush()
    away_users = {role: create_staff(role=role, office=north,
                                     police_unit=north_police if role == "police" else None) for role in ROLES}
    db.session.commit()
    values = {"report_id": str(report.id), "attachment_id": str(image.id), "transfer_id": str(record.id),
              "message_id": str(message.id), "shift_id": str(shift.id), "unit_id": str(member.id),
              "liaison_id": str(liaison.id), "username": target.username, "action": "acknowledge",
              "token": "no-such-setup-link", "code": police_unit.code, "case_id": str(case.id),
              "institution": "inst-home", "key_id": key_id, "unit_code": member.code,
              "recommendation_id": str(advice.id)}
    return World(values, {r: _desk(app, r, u) for r, u in home_users.items()},
                 {r: _desk(app, r, u) for r, u in away_users.items()})


def _fill(pattern: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], pattern)


def _tries(app: Flask) -> list[tuple[str, str, str, bool]]:
    """(rule, method, permission, names an object) for every staff route and method."""
    tries = []
    for rule in staff_rules(app):
        permission = app.view_functions[rule.endpoint].qzbg_permission
        for method in sorted(rule.methods & {"GET", "POST"}):
            tries.append((rule.rule, method, permission, bool(rule.arguments & OBJECT_ARGUMENTS)))
    return tries


def _state() -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    db.session.expire_all()
    return (
        db.session.scalars(select(Report.version)).all(),
        db.session.scalars(select(OutboxMessage.state).order_by(OutboxMessage.id)).all(),
        db.session.scalar(select(func.count()).select_from(DutyShift)),
        db.session.scalar(select(func.count()).select_from(UnitLiaison)),
        db.session.scalars(select(Unit.active).order_by(Unit.id)).all(),
        db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.notin_(("login", "report.view"))))
        .all(),
    )


def test_every_role_is_refused_every_route_and_method_its_permissions_do_not_allow(app, world: World):
    before = _state()
    checked = 0
    for rule, method, permission, _ in _tries(app):
        path = _fill(rule, world.values)
        for role, desk in world.home.items():
            if permissions.allows(role, permission):
                continue
            answer = desk.open(path, method)
            assert answer.status_code == 403, (role, method, rule, answer.status_code)
            checked += 1
    assert checked > 50
    assert _state() == before


def test_the_objects_are_real_each_is_found_by_a_role_of_its_own_office(app, world: World):
    """The other test's 404s mean something: the same paths open for the office's own users."""
    for rule, method, permission, names_object in _tries(app):
        if method != "GET" or not names_object:
            continue
        path = _fill(rule, world.values)
        statuses = {role: desk.open(path, "GET").status_code for role, desk in world.home.items()
                    if permissions.allows(role, permission)}
        assert 200 in statuses.values(), (rule, statuses)


def test_every_role_of_another_office_finds_nothing_of_this_office_on_any_route(app, world: World):
    before = _state()
    checked = 0
    for rule, method, permission, names_object in _tries(app):
        if not names_object:
            continue  # a page of one's own office (its scoping: test_authorization.py and each feature's tests)
        path = _fill(rule, world.values)
        for role, desk in world.away.items():
            answer = desk.open(path, method)
            expected = 404 if permissions.allows(role, permission) else 403
            assert answer.status_code == expected, (role, method, rule, answer.status_code)
            checked += 1
    assert checked > 40
    assert _state() == before


def test_every_form_of_the_site_refuses_a_post_without_its_csrf_token(app, world: World):
    """CSRF on every form, logout and the login steps included, for a logged-in user too (the JSON API takes
    bearer tokens, not cookies). The report form checks in its view, to show the form again: 400 all the same."""
    before = _state()
    rules = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods and not rule.rule.startswith("/api/")]
    forms = {"/logout", "/login", "/login/otp", "/login/enrol", "/report", "/account/password"}
    assert forms <= {r.rule for r in rules}
    for role in ("admin", "prosecutor", "police"):
        desk = world.home[role]
        for rule in rules:
            answer = desk.client.post(_fill(rule.rule, world.values), data={"version": "1"})
            assert answer.status_code == 400, (role, rule.rule, answer.status_code)
    assert world.home["admin"].client.get("/admin/users").status_code == 200  # still logged in: logout refused
    assert _state() == before
