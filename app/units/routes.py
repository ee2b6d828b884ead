"""Unit QR codes as PNG downloads and a printable A4 poster.

The codes are meant to hang on a hospital or school wall, so they are public;
staff pages link to them.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from app.core.db import transactional
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
@transactional(writes=True)  # stores the code fetched on first use
def unit_wxacode(code: str) -> ResponseReturnValue:
    """The mini-program code whose scene is the unit's code."""
    stored = qrcodes.wxacode(units.by_code(code), now=dt.datetime.now(dt.UTC))
    return _png(stored.image, stored.content_type, f"wxacode-{code}.png")


@bp.get("/<string:code>/qrcode.png")
def unit_web_qrcode(code: str) -> ResponseReturnValue:
    """A plain QR code of the web form with the unit preselected."""
    unit = units.by_code(code)
    return _png(qrcodes.web_qr_png(unit), "image/png", f"qrcode-{code}.png")


@bp.get("/<string:code>/poster")
def unit_poster(code: str) -> ResponseReturnValue:
    """A printable A4 poster: unit name, both codes, the 110 reminder."""
    unit = units.by_code(code)
    return render_template(
        "units/poster.html", unit=unit, unit_type=UNIT_TYPES.get(unit.type, ""), web_url=qrcodes.web_form_url(unit)
    )
