"""One-time subscribe-message grants a reporter gave in the mini-program (wx.requestSubscribeMessage)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator

from sqlalchemy import ForeignKey, Integer, String, select, tuple_
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dbtypes import UTCDateTime, utcnow
from app.extensions import db

# WeChat keeps accumulating one-time grants; we stop counting past this.
MAX_GRANTS = 50


class SubscriptionGrant(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "subscription_grants"

    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reporters.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


_Pair = tuple[uuid.UUID, str]
# Grants locked ahead for a batch (grants_locked): the rows found, and every pair asked for.
_locked: contextvars.ContextVar[tuple[dict[_Pair, SubscriptionGrant], set[_Pair]] | None] = contextvars.ContextVar(
    "qzbg_locked_grants", default=None
)


@contextlib.contextmanager
def grants_locked(pairs: Iterable[_Pair]) -> Iterator[None]:
    """Lock the grants of (reporter id, template id) ``pairs`` in one statement (``FOR UPDATE``, in key
    order); ``use_grant`` inside the block, in the same transaction, uses them instead of a look-up each."""
    wanted = sorted(set(pairs))
    found: dict[_Pair, SubscriptionGrant] = {}
    if wanted:
        rows = db.session.scalars(
            select(SubscriptionGrant)
            .where(tuple_(SubscriptionGrant.reporter_id, SubscriptionGrant.template_id).in_(wanted))
            .order_by(SubscriptionGrant.reporter_id, SubscriptionGrant.template_id)
            .with_for_update()
        )
        found = {(grant.reporter_id, grant.template_id): grant for grant in rows}
    token = _locked.set((found, set(wanted)))
    try:
        yield
    finally:
        _locked.reset(token)


def _grant(reporter_id: uuid.UUID, template_id: str) -> SubscriptionGrant | None:
    locked = _locked.get()
    if locked is not None and (reporter_id, template_id) in locked[1]:
        return locked[0].get((reporter_id, template_id))
    return db.session.scalars(
        select(SubscriptionGrant).where(
            SubscriptionGrant.reporter_id == reporter_id, SubscriptionGrant.template_id == template_id
        ).with_for_update()
    ).one_or_none()


def record_grants(reporter_id: uuid.UUID, template_ids: list[str], *, now: dt.datetime) -> dict[str, int]:
    """Add one grant per accepted template; the counts now held."""
    counts: dict[str, int] = {}
    for template_id in template_ids:
        grant = _grant(reporter_id, template_id)
        if grant is None:
            grant = SubscriptionGrant(reporter_id=reporter_id, template_id=template_id, remaining=0)
            db.session.add(grant)
        grant.remaining = min(MAX_GRANTS, grant.remaining + 1)
        grant.updated_at = now
        counts[template_id] = grant.remaining
    db.session.flush()
    return counts


def remaining(reporter_id: uuid.UUID, template_id: str) -> int:
    grant = db.session.get(SubscriptionGrant, (reporter_id, template_id))
    return grant.remaining if grant else 0


def use_grant(reporter_id: uuid.UUID, template_id: str, *, exhausted: bool = False) -> None:
    """One grant was used by a sent message (or WeChat said none is left: ``exhausted``)."""
    grant = _grant(reporter_id, template_id)
    if grant is not None:
        grant.remaining = 0 if exhausted else max(0, grant.remaining - 1)
