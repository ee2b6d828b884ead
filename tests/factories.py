"""Builders for valid request bodies; tests override only what they are about."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8))


def valid_id_number(born: dt.date, area: str = "330102", serial: str = "123") -> str:
    from app.reports.idcard import check_digit

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
    from app.auth.actor import Actor, ActorKind

    return Actor(ActorKind.STAFF, id=uuid.UUID(int=1), role=role)


PROSECUTOR = staff_actor("prosecutor")
