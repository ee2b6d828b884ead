"""Shared by the detail-page tests: a cast of logged-in staff, and posting an action form as a browser does."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from flask.testing import FlaskClient

from app.core.actor import Actor
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.review import service as review
from tests.auth.conftest import login, post, totp_now
from tests.factories import create_office, create_staff

VERSION = re.compile(r'data-action="(\w+)"[^>]*>.*?name="version" value="(\d+)"', re.S)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    client: FlaskClient
    user: Any
    step: int = 0

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.user)


@dataclass
class Cast:
    unit: PoliceUnit
    other_unit: PoliceUnit
    prosecutor: Person
    lead: Person
    police: Person
    other_police: Person
    other_office: Person


def person(app: Any, **kwargs: Any) -> Person:
    user = create_staff(**kwargs)
    db.session.commit()
    client = app.test_client()
    answer = login(client, user)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    return Person(client, user)


def make_cast(app: Any) -> Cast:
    """A prosecutor, a lead and two police users of two units of the default office, and a prosecutor of
    another office, each logged in (a test file's fixture: ``crew = pytest.fixture(make_cast)``)."""
    unit = PoliceUnit(code="pcs-north", name="城北派出所", office_id=1)
    other_unit = PoliceUnit(code="pcs-south", name="城南派出所", office_id=1)
    db.session.add_all([unit, other_unit])
    db.session.flush()
    office = create_office()
    return Cast(
        unit=unit, other_unit=other_unit,
        prosecutor=person(app, role="prosecutor", display_name="王检察官"),
        lead=person(app, role="lead", display_name="赵科长"),
        police=person(app, role="police", police_unit=unit, display_name="李警官"),
        other_police=person(app, role="police", police_unit=other_unit, display_name="周警官"),
        other_office=person(app, role="prosecutor", office=office, display_name="北区检察官"),
    )


def page(who: Person, report: Any) -> Any:
    g.pop("csrf_token", None)
    return who.client.get(f"/review/reports/{report.id}")


def forms(html: str) -> dict[str, int]:
    """data-action -> the version its form carries."""
    return {action: int(version) for action, version in VERSION.findall(html)}


def act(who: Person, report: Any, action: str, version: int | None = None, **fields: Any) -> Any:
    """Post the page's form for ``action`` (its csrf token; the version it carries unless given)."""
    html = page(who, report).get_data(as_text=True)
    found = CSRF.search(html)
    if found is None:  # a page this user may not see: a token from a page they may
        g.pop("csrf_token", None)
        found = CSRF.search(who.client.get("/account/sessions").get_data(as_text=True))
    token = found.group(1)
    if version is None:
        version = forms(html)[action]
    return who.client.post(f"/review/reports/{report.id}/actions/{action}",
                           data={"csrf_token": token, "version": str(version),
                                 "next": f"/review/reports/{report.id}", **fields})


def age_step_up(who: Person) -> None:
    """The second factor of the login is no longer recent (more than 10 minutes ago)."""
    from sqlalchemy import update

    from app.auth.models import StaffSession

    db.session.execute(update(StaffSession).where(StaffSession.user_id == who.user.id)
                       .values(stepped_up_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)))
    db.session.commit()


def a_minute_passes(who: Person) -> None:
    """A code is accepted once: let the next step-up use the current code again, as after waiting for the
    authenticator to show a new one."""
    from sqlalchemy import update

    from app.auth.models import StaffUser

    step = int(dt.datetime.now(dt.UTC).timestamp()) // 30
    db.session.execute(update(StaffUser).where(StaffUser.id == who.user.id).values(totp_last_step=step - 2))
    db.session.commit()
    who.step = -1  # the helper adds one: the current code


def step_up(who: Person, next_url: str) -> Any:
    who.step += 1
    return post(who.client, "/account/step-up", {"otp": totp_now(who.user.unseal("totp_secret_data"), who.step),
                                                "next": next_url}, form_page=f"/account/step-up?next={next_url}")


def transfer(report: Any, actor: Actor, *, share: bool = False, unit: str = "pcs-north") -> Any:
    """Transfer through the service (the report must be reviewing), committed."""
    record = review.transfer(report, police_unit=unit, document_no="X检移〔2026〕7号", contact="刘警官",
                             share_reporter=share, note="请依法核查", actor=actor, version=report.version,
                             now=dt.datetime.now(dt.UTC), deadlines=review.Deadlines(),
                             outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    return record
