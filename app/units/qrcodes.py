"""QR codes for member units: the mini-program code (scene = unit code) and a plain code of the web form."""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import quote

import qrcode
from flask import current_app
from sqlalchemy import select

from app.core.sniff import sniff
from app.extensions import db
from app.units.models import Unit, UnitQrCode
from app.wechat.client import WeChatUnavailable, get_gateway


def web_form_url(unit: Unit) -> str:
    return f"{current_app.config['QZBG'].public_url}/report?unit={quote(unit.code, safe='')}"


def web_qr_png(unit: Unit) -> bytes:
    """A plain QR code of ``/report?unit=CODE`` for phones without the mini-program."""
    out = io.BytesIO()
    qrcode.make(web_form_url(unit), error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4).save(out)
    return out.getvalue()


def wxacode(unit: Unit, *, now: dt.datetime) -> UnitQrCode:
    """The unit's mini-program code: fetched once from getwxacodeunlimit, then kept."""
    settings = current_app.config["QZBG"]
    stored = db.session.scalars(
        select(UnitQrCode).where(UnitQrCode.unit_id == unit.id, UnitQrCode.kind == "wxacode")
    ).one_or_none()
    if stored is not None and stored.scene == unit.code and stored.page == settings.wechat_report_page:
        return stored
    image = get_gateway().wxacode_unlimited(unit.code, settings.wechat_report_page, settings.wechat_env_version)
    content_type = sniff(image[:64])
    if content_type not in ("image/png", "image/jpeg"):
        raise WeChatUnavailable(None, "getwxacodeunlimit returned no image")
    if stored is None:
        stored = UnitQrCode(unit_id=unit.id, kind="wxacode")
        db.session.add(stored)
    stored.scene, stored.page, stored.image, stored.content_type = (
        unit.code, settings.wechat_report_page, image, content_type,
    )
    stored.created_at = now
    db.session.flush()
    return stored
