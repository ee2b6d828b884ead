"""Builders: valid request bodies, and rows in the database built through the project's own services.

Tests override only what they are about; the demo seed (later) uses the same builders.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

from flask import current_app

from app.crypto.vault import get_vault

CST = dt.timezone(dt.timedelta(hours=8))


def valid_id_number(born: dt.date, area: str = "330102", serial: str = "123") -> str:
    from app.core.idcard import check_digit

    first17 = f"{area}{born:%Y%m%d}{serial}"
    return first17 + check_digit(first17)


def report_body(**sections: Any) -> dict[str, Any]:
    """A complete, valid JSON report; ``victim={"age": 9}`` merges into that section."""
    discovered = (dt.datetime.now(CST) - dt.timedelta(hours=2)).replace(microsecond=0)
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "categories": ["abuse_injury"],
        "urgent": False,
        "unit_id": None,
        "reporter": {"name": "王医生", "phone": "13800000000", "position": "急诊科医生"},
        "victim": {
            "name": "小花", "gender": "female", "age": 12, "id_number": None, "address": "某区某街道",
            "guardian_name": None, "guardian_phone": None, "has_disability": False,
        },
        "incident": {
            "discovered_at": discovered.isoformat(),
            "occurred_at": None,
            "location": "市妇幼保健院急诊科",
            "description": "接诊时发现患儿身上有多处新旧不一的淤伤。",
        },
        "suspect": {"name": None, "relation": "邻居", "description": None},
        "police": {"notified": True, "station": "城北派出所", "notified_at": discovered.isoformat()},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return copy.deepcopy(body)


def staff_actor(role: str = "prosecutor") -> Any:
    """A staff actor for service calls (the staff side's accounts come later)."""
    from app.core.actor import Actor, ActorKind

    return Actor(ActorKind.STAFF, id=uuid.UUID(int=1), role=role)


PROSECUTOR = staff_actor("prosecutor")

# The actions that bring a new report to each status, through the one state machine.
STATUS_PATH: dict[str, tuple[str, ...]] = {
    "new": (),
    "reviewing": ("acknowledge",),
    "transferred": ("acknowledge", "transfer"),
    "police_responded": ("acknowledge", "transfer", "record_feedback"),
    "supervising": ("acknowledge", "transfer", "record_feedback", "supervise"),
    "closed": ("acknowledge", "close"),
}


def create_unit(
    code: str | None = None, *, name: str = "市妇幼保健院", type: str = "maternal_child_health",  # noqa: A002
    district_code: str | None = "330102", active: bool = True,
) -> Any:
    """A member unit, flushed (commit it when another connection must see it)."""
    from app.extensions import db
    from app.units.models import Unit

    unit = Unit(code=code or f"unit-{uuid.uuid4().hex[:8]}", name=name, type=type, district_code=district_code,
                active=active)
    db.session.add(unit)
    db.session.flush()
    return unit


def create_report(
    *, status: str = "new", reporter: Any = None, unit: Any = None, now: dt.datetime | None = None,
    commit: bool = True, **sections: Any,
) -> Any:
    """A report submitted through ``reports.service.submit`` and moved to ``status`` through the state machine.

    ``reporter`` is a Reporter (a mini-program report) or None (the web form); ``sections`` override the body
    as in ``report_body``.
    """
    from app.core.actor import Actor
    from app.extensions import db
    from app.reports import service
    from app.reports.schemas import ReportBody

    at = now or dt.datetime.now(dt.UTC)
    body = report_body(unit_id=unit.id if unit is not None else None, **sections)
    data = ReportBody().load({k: v for k, v in body.items() if k != "client_id"})
    actor = Actor.reporter(reporter.id) if reporter is not None else Actor.public()
    result = service.submit(data, actor=actor, client_key=f"test:{uuid.uuid4()}", now=at, reporter=reporter,
                            vault=get_vault(),
                            ack_deadlines=service.AckDeadlines.from_settings(current_app.config["QZBG"]))
    report = result.report
    for step, action in enumerate(STATUS_PATH[status], start=1):
        service.change_status(report, action, actor=PROSECUTOR, now=at + dt.timedelta(seconds=step))
    if commit:
        db.session.commit()
    return report


STAFF_PASSWORD = "correct horse battery staple 7"


def create_staff(
    username: str | None = None, *, role: str = "prosecutor", office: Any = None, police_unit: Any = None,
    unit: Any = None, enrolled: bool = True, password: str = STAFF_PASSWORD, display_name: str | None = None,
) -> Any:
    """A staff account through ``auth.service.create_user``; ``enrolled`` gives it a TOTP secret already confirmed
    (read it with ``user.unseal("totp_secret_data")``). Police get a police unit, liaisons a unit, if not given."""
    from app.auth import service
    from app.extensions import db
    from app.offices import queries as offices
    from app.offices.models import PoliceUnit

    office = office or offices.default_office()
    if role == "police" and police_unit is None:
        police_unit = PoliceUnit(code=f"pu-{uuid.uuid4().hex[:8]}", name="城北派出所", office_id=office.id)
        db.session.add(police_unit)
        db.session.flush()
    if role == "unit_liaison" and unit is None:
        unit = create_unit()
        unit.office_id = office.id
    new = service.NewUser(
        username=username or f"{role}-{uuid.uuid4().hex[:6]}", role=role, office=office, police_unit=police_unit,
        unit=unit, display_name=display_name,
    )
    user = service.create_user(new, password, actor=None, now=dt.datetime.now(dt.UTC), vault=get_vault(),
                               training=role == "trainer")  # a training deployment's role
    if enrolled and user.needs_totp:
        service.enrolment_secret(user)
        user.totp_enrolled_at = dt.datetime.now(dt.UTC)
    db.session.flush()
    return user


def create_office(code: str = "north", name: str = "北区人民检察院", districts: tuple[str, ...] = ("430299",)) -> Any:
    from app.offices import service

    return service.add_office(code, name, list(districts))


def exported(client: Any, path: str, **kwargs: Any) -> Any:
    """Ask for a workbook as a browser does and fetch it: the request answers 303 to its export page, the export
    runner writes it (here, in the test's thread), and the page's download link answers the workbook. The
    download's response (200 and the bytes) is returned."""
    import html
    import re

    from app.crypto.vault import get_vault
    from app.exports import service as export_service

    asked = client.get(path, **kwargs)
    assert asked.status_code == 303, (path, asked.status_code)
    page_url = asked.headers["Location"]
    assert re.fullmatch(r"/exports/[0-9a-f-]{36}", page_url), page_url
    while export_service.run_next(owner="test-runner", settings=current_app.config["QZBG"], vault=get_vault(),
                                  clock=lambda: dt.datetime.now(dt.UTC)):
        pass
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    link = re.search(r'data-field="download" href="([^"]+)"', page.get_data(as_text=True))
    assert link, page.get_data(as_text=True)
    download = client.get(html.unescape(link.group(1)))
    assert download.status_code == 200, download.status_code
    return download
