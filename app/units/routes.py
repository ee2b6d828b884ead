"""Unit QR codes as PNG downloads and a printable A4 poster.

The codes are meant to hang on a hospital or school wall, so they are public;
staff pages link to them. These routes serve only what is stored and never call
WeChat (see app/units/qrcodes.py).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue

from app.clients.wechat import configured
from app.errors import NotFoundError, UpstreamUnavailableError
from app.units import qrcodes
from app.units import queries as units
from app.units.models import UNIT_TYPES

bp = Blueprint("units", __name__, url_prefix="/units")


def _png(data: bytes, content_type: str, filename: str) -> Response:
    response = Response(data, content_type=content_type)
    if request.args.get("download") == "1":
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/<string:code>/wxacode.png")
def unit_wxacode(code: str) -> ResponseReturnValue:
    """The mini-program code whose scene is the unit's code, as fetched at import.

    404 while WeChat is not configured (there is no mini-program to open); 503 with
    Retry-After while the code has not been fetched yet (``flask units fetch-codes``).
    """
    unit = units.by_code(code)
    settings = current_app.config["QZBG"]
    if not configured(settings):
        raise NotFoundError("该单位暂无小程序码，请使用网页报告二维码")
    stored = qrcodes.stored_wxacode(unit, settings.wechat_report_page)
    if stored is None:
        raise UpstreamUnavailableError("小程序码尚未生成，请稍后再试或使用网页报告二维码",
                                       headers={"Retry-After": "600"})
    return _png(stored.image, stored.content_type, f"wxacode-{code}.png")


@bp.get("/<string:code>/qrcode.png")
def unit_web_qrcode(code: str) -> ResponseReturnValue:
    """A plain QR code of the web form with the unit preselected."""
    unit = units.by_code(code)
    return _png(qrcodes.web_qr_png(unit, current_app.config["QZBG"].public_url), "image/png", f"qrcode-{code}.png")


@bp.get("/<string:code>/training-qrcode.png")
def unit_training_qrcode(code: str) -> ResponseReturnValue:
    """A QR code of the practice form with the unit preselected: what a trainer prints for a liaison training
    (a practice report reaches no real channel and counts nowhere)."""
    unit = units.by_code(code)
    return _png(qrcodes.web_qr_png(unit, current_app.config["QZBG"].public_url, training=True), "image/png",
                f"training-qrcode-{code}.png")


@bp.get("/<string:code>/poster")
def unit_poster(code: str) -> ResponseReturnValue:
    """A printable A4 poster: unit name, the codes, the 110 reminder.

    The mini-program code only once WeChat is configured and the code is kept; the web QR code always.
    """
    unit = units.by_code(code)
    settings = current_app.config["QZBG"]
    with_wxacode = configured(settings) and qrcodes.has_wxacode(unit, settings.wechat_report_page)
    return render_template(
        "units/poster.html", unit=unit, unit_type=UNIT_TYPES.get(unit.type, ""),
        web_url=qrcodes.web_form_url(unit, settings.public_url),
        with_wxacode=with_wxacode,
    )
