"""Who hears what, per office: recipients for each kind of event, and the channels each one is reached on.

- a new report: the prosecutors and leads on duty (``DutyShift``); an office with no roster has every active
  prosecutor and lead on duty around the clock; a roster with nobody on duty at that moment falls back to the
  office's leads (then to everyone), so a report is never heard by nobody;
- an urgent report: the same people, at once on every channel they can be reached on;
- an escalation (an urgent report nobody acknowledged): the office's leads, on every channel;
- a transfer: the active users of the police unit;
- an answer from a reporter, police action, a police deadline passed: the assigned prosecutor (else the leads).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select

from app.auth.models import StaffUser
from app.extensions import db
from app.notify.models import STAFF_CHANNELS, DutyShift

CST = dt.timezone(dt.timedelta(hours=8))
REVIEWERS = ("prosecutor", "lead")


@dataclasses.dataclass(frozen=True)
class Recipient:
    user: StaffUser
    channels: tuple[str, ...] = ()  # the roster's choice; empty: the best channel the user can be reached on


def _active(query: Select[Any]) -> list[StaffUser]:
    return list(db.session.scalars(query.where(StaffUser.active.is_(True)).order_by(StaffUser.username)).unique())


def reviewers(office_id: int, roles: Iterable[str] = REVIEWERS) -> list[Recipient]:
    return [Recipient(u) for u in _active(select(StaffUser).where(StaffUser.office_id == office_id,
                                                                   StaffUser.role.in_(list(roles))))]


def leads(office_id: int) -> list[Recipient]:
    """The office's leads; an office without one: its prosecutors."""
    return reviewers(office_id, ("lead",)) or reviewers(office_id)


def on_duty(office_id: int, now: dt.datetime) -> list[Recipient]:
    """Who is on duty at ``now`` (see the module docstring for the defaults). One query: the office's active
    prosecutors and leads with their shifts; none of them has a shift means no roster."""
    rows = db.session.execute(
        select(StaffUser, DutyShift).outerjoin(DutyShift, DutyShift.user_id == StaffUser.id)
        .where(StaffUser.office_id == office_id, StaffUser.role.in_(REVIEWERS), StaffUser.active.is_(True))
        .order_by(StaffUser.username)
    ).unique().all()
    if not any(shift is not None for _, shift in rows):
        return [Recipient(user) for user in dict.fromkeys(user for user, _ in rows)]
    local = now.astimezone(CST)
    minute = local.hour * 60 + local.minute
    found: dict[object, Recipient] = {}
    for user, shift in rows:
        if shift is None or not shift.covers(local.weekday(), minute):
            continue
        before = found.get(user.id)
        channels = tuple(dict.fromkeys((*(before.channels if before else ()), *shift.channel_list)))
        found[user.id] = Recipient(user, channels)
    return list(found.values()) or leads(office_id)


def police_users(police_unit_id: int) -> list[Recipient]:
    return [Recipient(u) for u in _active(select(StaffUser).where(StaffUser.police_unit_id == police_unit_id,
                                                                   StaffUser.role == "police"))]


def assignee_or_leads(assignee_id: object, office_id: int) -> list[Recipient]:
    user = db.session.get(StaffUser, assignee_id) if assignee_id is not None else None
    if user is not None and user.active:
        return [Recipient(user)]
    return leads(office_id)


def reachable(user: StaffUser, live: Iterable[str]) -> list[str]:
    """The staff channels of ``live`` the user has an address for, best first (WeCom, e-mail, SMS)."""
    addresses = {"wecom": user.wecom_userid, "email": user.email, "sms": user.mobile_data}
    return [name for name in STAFF_CHANNELS if name in live and addresses[name]]


def pick(recipient: Recipient, live: Iterable[str], *, every: bool) -> list[str]:
    """The channels to use: every reachable one (urgent), else the roster's choice, else the best one; a roster
    choice that cannot work (channel off, no address) falls back to the best reachable channel."""
    available = reachable(recipient.user, live)
    if every:
        return available
    chosen = [name for name in recipient.channels if name in available]
    return chosen or available[:1]
