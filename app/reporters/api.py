"""JSON API for reporters: mini-program login and logout, phone verification, own profile, subscription grants."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from app.core.db import transactional
from app.core.dbtypes import utcnow
from app.core.rest import BEARER, ApiBlueprint
from app.crypto.vault import get_vault
from app.errors import ValidationError
from app.extensions import limiter
from app.reporters import login as wechat_login
from app.reporters import service as reporters
from app.reporters import subscriptions
from app.reporters.auth import current_reporter, current_token, reporter_required
from app.reporters.models import Reporter
from app.reporters.schemas import CodeIn, LoginOut, MeOut, PhoneOut, SubscriptionsIn, SubscriptionsOut

blp = ApiBlueprint("api_reporters", __name__, url_prefix="/api/v1", description="小程序登录与订阅消息")


def login_limit() -> str:
    """Per client address (a training deployment's: the training room's, ``Settings.per_address``)."""
    settings = current_app.config["QZBG"]
    return str(settings.per_address(settings.login_rate_limit))


def _reporter_out(reporter: Reporter) -> dict[str, Any]:
    return {"id": reporter.id, "phone_verified": reporter.phone_verified_at is not None, "unit": reporter.unit}


@blp.after_request
def no_store(response: Any) -> Any:
    """Tokens and phone numbers: never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/auth/wechat", methods=["POST"])
@transactional
@limiter.limit(login_limit)
@blp.arguments(CodeIn)
@blp.response(200, LoginOut)
@blp.errors(400, 401, 413, 415, 422, 429, 503)
def login_wechat(data: dict[str, Any]) -> dict[str, Any]:
    """Exchange a wx.login code for a bearer token."""
    settings = current_app.config["QZBG"]
    result = wechat_login.login(data["code"], now=utcnow(), ttl=dt.timedelta(hours=settings.token_ttl_hours),
                                  vault=get_vault())
    return {"token": result.token, "expires_in": result.expires_in, "reporter": _reporter_out(result.reporter)}


@blp.route("/auth/logout", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@blp.response(204)
@blp.errors(401, 503)
def logout() -> None:
    """Revoke the bearer token of this request; it answers 401 from now on."""
    reporters.revoke(current_token(), now=utcnow())


@blp.route("/auth/phone", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(CodeIn)
@blp.response(200, PhoneOut)
@blp.errors(400, 401, 413, 415, 422, 429, 503)
def verify_phone(data: dict[str, Any]) -> dict[str, Any]:
    """Verify the reporter's phone number with a getPhoneNumber code."""
    masked = wechat_login.verify_phone(current_reporter(), data["code"], now=utcnow(), vault=get_vault())
    return {"phone_verified": True, "phone_masked": masked}


@blp.route("/me")
@blp.doc(security=BEARER)
@reporter_required
@blp.response(200, MeOut)
@blp.errors(401, 503)
def get_me() -> dict[str, Any]:
    """The reporter's own account, with the verified phone number to prefill a report."""
    reporter = current_reporter()
    phone = reporter.unseal("phone_data")
    masked = wechat_login.mask_phone(phone) if phone else None
    return {**_reporter_out(reporter), "phone": phone, "phone_masked": masked}


@blp.route("/subscriptions", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(SubscriptionsIn)
@blp.response(200, SubscriptionsOut)
@blp.errors(400, 401, 413, 415, 422, 503)
def record_subscriptions(data: dict[str, Any]) -> dict[str, Any]:
    """Record the templates the user accepted in wx.requestSubscribeMessage (one grant each)."""
    known = {current_app.config["QZBG"].wechat_status_template_id} - {None}
    unknown = [t for t in data["template_ids"] if t not in known]
    if unknown:
        raise ValidationError(fields={"template_ids": ["包含未知的订阅消息模板"]})
    template_ids = list(dict.fromkeys(data["template_ids"]))  # each accepted template once
    granted = subscriptions.record_grants(current_reporter().id, template_ids, now=utcnow())
    return {"granted": granted}
