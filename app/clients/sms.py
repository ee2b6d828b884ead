"""Tencent Cloud SMS (API 3.0 ``SendSms``, version 2021-01-11): our client, built once from the settings
(``get_sms``); the staff channel that uses it (for staff without WeCom) is app.notify.sms.

The SDK (``tencentcloud-sdk-python-sms``) signs each request (TC3-HMAC-SHA256) and sends it to
``QZBG_SMS_ENDPOINT`` (``https://sms.tencentcloudapi.com``; the fake on 127.0.0.1 in tests). Only an approved
template with an approved signature sends: the text is the template's, filled with three values (the event,
at most 12 characters; the tracking number; the time, ``MM-DD HH:MM``): nothing personal.

Outcomes, from the whole request's ``Error.Code`` or the number's ``SendStatus.Code``: ``Ok`` is sent;
``LimitExceeded.*``, ``RequestLimitExceeded*``, ``InternalError.*``, a network error or timeout, and
``AuthFailure.*`` / ``UnauthorizedOperation.*`` (credentials an admin must fix) are retried later;
anything else (``InvalidParameterValue.IncorrectPhoneNumber``, ``FailedOperation.PhoneNumberInBlacklist``,
``FailedOperation.TemplateIncorrectOrUnapproved`` ...) is permanent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from flask import current_app
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from app.clients.outcomes import GiveUp, Retry
from app.config import Settings

# The SDK logs whole requests (phone numbers included) at DEBUG: never let that through.
logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)

TEMPORARY = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ClientNetworkError", "ServerNetworkError",
             "ResourceUnavailable", "AuthFailure", "UnauthorizedOperation",
             "FailedOperation.InsufficientBalanceInSmsPackage")


def outcome(code: str) -> Exception:
    """``Retry`` or ``GiveUp`` for a Tencent Cloud error code."""
    error = f"sms:{code}"[:80]
    return Retry(error) if code.startswith(TEMPORARY) else GiveUp(error)


def e164(number: str) -> str:
    """A mainland mobile number as Tencent wants it: ``+86`` and the 11 digits."""
    digits = number.strip().replace(" ", "").replace("-", "")
    return digits if digits.startswith("+") else f"+86{digits}"


class TencentSms:
    """Our class around the SDK's ``SmsClient``: one method, each failure a ``Retry`` or a ``GiveUp``."""

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str, template_id: str,
                 endpoint: str, region: str, timeout: int) -> None:
        parts = urlsplit(endpoint)
        http = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=timeout)
        self.client = sms_client.SmsClient(credential.Credential(secret_id, secret_key), region,
                                           ClientProfile(httpProfile=http))
        self.sdk_app_id, self.sign_name, self.template_id = sdk_app_id, sign_name, template_id

    def send(self, phone: str, params: Sequence[str]) -> None:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [e164(phone)]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = self.template_id
        request.TemplateParamSet = list(params)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise outcome(str(exc.get_code() or "ClientNetworkError")) from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise Retry("sms:no_status")
        code = str(statuses[0].Code or "")
        if code != "Ok":
            raise outcome(code)


_build_lock = threading.Lock()


def get_sms() -> TencentSms:
    client: TencentSms | None = current_app.extensions.get("qzbg.sms")
    if client is not None:
        return client
    with _build_lock:
        client = current_app.extensions.get("qzbg.sms")
        if client is None:
            s: Settings = current_app.config["QZBG"]
            client = TencentSms(s.sms_secret_id or "", s.sms_secret_key or "", s.sms_sdk_app_id or "",
                                s.sms_sign_name or "", s.sms_template_id or "", s.sms_endpoint, s.sms_region,
                                s.notify_timeout)
            current_app.extensions["qzbg.sms"] = client
    return client
