"""QR codes for member units: the mini-program code (scene = unit code) and a plain code of the web form.

The mini-program code comes from WeChat (getwxacodeunlimit) when a unit is imported, or later with
``flask units fetch-codes``, and is kept in ``unit_qrcodes``. The public routes only serve what is
stored: an unauthenticated request never makes us call WeChat, so a slow or failing WeChat (or
someone walking unit codes) cannot slow a poster down or spend WeChat's quota.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import qrcode
from sqlalchemy import Select, select

from app.clients.wechat import WeChatError, WeChatUnavailable, get_gateway
from app.config import Settings
from app.core.db import unit_of_work
from app.core.sniff import sniff
from app.extensions import db
from app.units.models import Unit, UnitQrCode

log = logging.getLogger("qzbg.units")


def web_form_url(unit: Unit, public_url: str) -> str:
    return f"{public_url}/report?unit={quote(unit.code, safe='')}"


def web_qr_png(unit: Unit, public_url: str, *, training: bool = False) -> bytes:
    """A plain QR code of ``/report?unit=CODE`` (under ``public_url``) for phones without the mini-program;
    ``training``: of the practice form (``&training=1``, the 培训演示环境 banner), for liaison trainings."""
    out = io.BytesIO()
    url = web_form_url(unit, public_url) + ("&training=1" if training else "")
    qrcode.make(url, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4).save(out)
    return out.getvalue()


def _stored(unit: Unit) -> UnitQrCode | None:
    return db.session.scalars(
        select(UnitQrCode).where(UnitQrCode.unit_id == unit.id, UnitQrCode.kind == "wxacode")
    ).one_or_none()


def _current(page: str) -> Select[Any]:
    """Ids of units whose kept mini-program code is current: same scene (the unit code), same page (``page``:
    ``QZBG_WECHAT_REPORT_PAGE``)."""
    return (
        select(UnitQrCode.unit_id)
        .join(Unit, Unit.id == UnitQrCode.unit_id)
        .where(UnitQrCode.kind == "wxacode", UnitQrCode.scene == Unit.code,
               UnitQrCode.page == page)
    )


def stored_wxacode(unit: Unit, page: str) -> UnitQrCode | None:
    """The unit's kept mini-program code, if it is current (for ``page``); never calls WeChat."""
    stored = _stored(unit)
    if stored is None or stored.scene != unit.code or stored.page != page:
        return None
    return stored


def has_wxacode(unit: Unit, page: str) -> bool:
    """Whether a current mini-program code (for ``page``) is kept for the unit (without loading the image)."""
    return db.session.scalars(_current(page).where(UnitQrCode.unit_id == unit.id)).first() is not None


def download_wxacode(code: str, settings: Settings) -> tuple[bytes, str]:
    """The mini-program code image for a unit code, from getwxacodeunlimit: (image, content type).
    Touches no database, so no transaction waits on WeChat."""
    image = get_gateway().wxacode_unlimited(code, settings.wechat_report_page, settings.wechat_env_version)
    content_type = sniff(image[:64])
    if content_type not in ("image/png", "image/jpeg"):
        raise WeChatUnavailable(None, "getwxacodeunlimit returned no image")
    return image, content_type


def store_wxacode(unit: Unit, image: bytes, content_type: str, *, page: str, now: dt.datetime) -> UnitQrCode:
    """Keep ``image`` as the unit's mini-program code for ``page`` (replacing an old one)."""
    stored = _stored(unit)
    if stored is None:
        stored = UnitQrCode(unit_id=unit.id, kind="wxacode")
        db.session.add(stored)
    stored.scene, stored.page, stored.image, stored.content_type = (
        unit.code, page, image, content_type,
    )
    stored.created_at = now
    db.session.flush()
    return stored


@dataclasses.dataclass
class FetchOutcome:
    fetched: int = 0
    current: int = 0  # already stored and current
    failed: int = 0


def fetch_missing(codes: Iterable[str] | None = None, *, settings: Settings, refresh: bool = False) -> FetchOutcome:
    """Fetch the mini-program codes of active units (``codes``, or all) that have none or a stale one.

    For CLI commands, after the units are committed. WeChat is called outside any transaction and
    each code is stored in a short one of its own, so a failure loses nothing already done; it is
    logged and counted, never raised, and the next run (``flask units fetch-codes`` or the next
    import) tries again.
    """
    outcome = FetchOutcome()
    stmt = select(Unit.id, Unit.code).where(Unit.active.is_(True)).order_by(Unit.id)
    wanted = None if codes is None else set(codes)  # filtered here: no IN list of thousands of codes
    current = set() if refresh else set(db.session.scalars(_current(settings.wechat_report_page)))
    todo: list[tuple[int, str]] = []
    for unit_id, code in db.session.execute(stmt).all():
        if wanted is not None and code not in wanted:
            continue
        if unit_id in current:
            outcome.current += 1
        else:
            todo.append((unit_id, code))
    db.session.rollback()  # no transaction stays open while WeChat is called
    for unit_id, code in todo:
        try:
            image, content_type = download_wxacode(code, settings)
        except WeChatError as exc:
            outcome.failed += 1
            log.warning("unit_wxacode_fetch_failed", extra={"unit_id": unit_id, "error": type(exc).__name__,
                                                            "errcode": exc.errcode})
            continue
        with unit_of_work():
            unit = db.session.get(Unit, unit_id)
            if unit is not None and unit.code == code:
                store_wxacode(unit, image, content_type, page=settings.wechat_report_page,
                              now=dt.datetime.now(dt.UTC))
                outcome.fetched += 1
    return outcome


def units_with_wxacode(unit_ids: Iterable[int], page: str) -> set[int]:
    """Which of these units have a current mini-program code kept (one query, no IN list of thousands)."""
    return set(db.session.scalars(_current(page))) & set(unit_ids)
