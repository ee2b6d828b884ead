"""A fake Tencent Cloud SMS endpoint for tests and demos, speaking API 3.0 ``SendSms`` (2021-01-11) over HTTP.

It checks what the real service checks first: the action and version headers, the ``TC3-HMAC-SHA256``
signature (recomputed with the fake's secret key: a wrong key, a changed body or host fails), its age; then
the application id, the signature name, the template and its number of values; then each number. It answers
Tencent's JSON shapes: ``{"Response": {"SendStatusSet": [...], "RequestId"}}``, with a per-number ``Code``
(``Ok``, ``InvalidParameterValue.IncorrectPhoneNumber``, ``FailedOperation.PhoneNumberInBlacklist``,
``LimitExceeded.PhoneNumberDailyLimit`` ...), or ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``
for the whole request (``AuthFailure.SignatureFailure``, ``RequestLimitExceeded``, ``InternalError.Timeout``).
Switches: ``fail_next(code)`` (the next whole request), ``failing = code`` (every whole request until
cleared), ``number_codes[phone] = code`` (one number), ``blacklist``, ``mode`` ``error_5xx`` or ``hang``.
Production never starts it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

AUTH = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/sms/tc3_request, "
                  r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})$")
MOBILE = re.compile(r"^\+861[3-9]\d{9}$")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, date: str, timestamp: str, content_type: str, host: str, body: bytes) -> str:
    """The TC3-HMAC-SHA256 signature of a POST to ``/`` (Tencent Cloud's API 3.0 signing, v3)."""
    canonical = "\n".join(["POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/sms/tc3_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), "sms"), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencentSms:
    def __init__(self, secret_id: str = "AKIDfake", secret_key: str = "fake-sms-key",  # noqa: S107 - a fake's
                 sdk_app_id: str = "1400000001", sign_name: str = "强制报告", templates: dict[str, int] | None = None,
                 ) -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name = sdk_app_id, sign_name
        self.templates = templates if templates is not None else {"2000001": 3}
        self.mode = "normal"
        self.hang_seconds = 3.0
        self.failures: list[str] = []
        self.failing: str | None = None  # Error.Code every request answers until cleared
        self.number_codes: dict[str, str] = {}
        self.blacklist: set[str] = set()
        self.sent: list[dict[str, Any]] = []  # one per number that got a message
        self.requests: list[bytes] = []  # every body received, as received
        self._lock = threading.Lock()

    def fail_next(self, code: str, times: int = 1) -> None:
        with self._lock:
            self.failures += [code] * times

    # -- protocol -----------------------------------------------------------
    @staticmethod
    def _answer(payload: dict[str, Any]) -> Response:
        payload["RequestId"] = str(uuid.uuid4())
        return Response(json.dumps({"Response": payload}, ensure_ascii=False), content_type="application/json")

    def _error(self, code: str, message: str) -> Response:
        return self._answer({"Error": {"Code": code, "Message": message}})

    def _check_signature(self, request: Request, body: bytes) -> Response | None:
        match = AUTH.match(request.headers.get("Authorization", ""))
        if match is None:
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is malformed")
        secret_id, date, signature = match.groups()
        if secret_id != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        timestamp = request.headers.get("X-TC-Timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return self._error("AuthFailure.SignatureExpire", "Signature expired")
        if time.strftime("%Y-%m-%d", time.gmtime(int(timestamp))) != date:
            return self._error("AuthFailure.SignatureFailure", "The credential date does not match the timestamp")
        expected = tc3_signature(self.secret_key, date=date, timestamp=timestamp,
                                 content_type=request.headers.get("Content-Type", ""),
                                 host=request.headers.get("Host", ""), body=body)
        if not hmac.compare_digest(expected, signature):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated")
        return None

    def send_sms(self, request: Request) -> Response:
        body = request.get_data()
        with self._lock:
            self.requests.append(body)
        if request.headers.get("X-TC-Action") != "SendSms":
            return self._error("InvalidAction", "The action is not supported by this fake")
        if request.headers.get("X-TC-Version") != "2021-01-11":
            return self._error("NoSuchVersion", "The API version does not exist")
        if not request.headers.get("X-TC-Region"):
            return self._error("InvalidParameter", "X-TC-Region is missing")
        problem = self._check_signature(request, body)
        if problem is not None:
            return problem
        with self._lock:
            if self.failures:
                return self._error(self.failures.pop(0), "injected by the fake")
            if self.failing is not None:
                return self._error(self.failing, "injected by the fake until cleared")
        try:
            data = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "The body is not JSON")
        numbers, params = data.get("PhoneNumberSet"), data.get("TemplateParamSet") or []
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= 200:
            return self._error("InvalidParameterValue.InvalidPhoneNumberSet", "1 to 200 numbers a request")
        if data.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not exist")
        if any(not isinstance(p, str) or len(p) > 32 for p in params):
            return self._error("InvalidParameterValue.TemplateParameterLengthLimit", "a value is too long")
        statuses = []
        for number in numbers:
            code = self._number_code(str(number), data, params)
            status = {"SerialNo": f"{secrets.randbelow(10**6)}:{secrets.token_hex(8)}", "PhoneNumber": number,
                      "Fee": 1 if code == "Ok" else 0, "SessionContext": data.get("SessionContext", ""),
                      "Code": code, "Message": "send success" if code == "Ok" else code, "IsoCode": "CN"}
            statuses.append(status)
            if code == "Ok":
                with self._lock:
                    self.sent.append({"phone": number, "template": data.get("TemplateId"), "params": params,
                                      "sign": data.get("SignName")})
        return self._answer({"SendStatusSet": statuses})

    def _number_code(self, number: str, data: dict[str, Any], params: list[Any]) -> str:
        if data.get("SignName") != self.sign_name:
            return "FailedOperation.SignatureIncorrectOrUnapproved"
        expected = self.templates.get(str(data.get("TemplateId")))
        if expected is None:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        if len(params) != expected:
            return "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
        if not MOBILE.match(number):
            return "InvalidParameterValue.IncorrectPhoneNumber"
        if number in self.blacklist:
            return "FailedOperation.PhoneNumberInBlacklist"
        return self.number_codes.get(number, "Ok")

    # -- WSGI ---------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if self.mode == "error_5xx":
            response = Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html")
        else:
            if self.mode == "hang":
                time.sleep(self.hang_seconds)
            if request.method != "POST" or request.path != "/":
                response = Response("404 page not found", status=404, content_type="text/plain")
            else:
                response = self.send_sms(request)
        return response(environ, start_response)


class FakeTencentSmsServer:
    """The fake on 127.0.0.1 in a background thread: ``with FakeTencentSmsServer() as server: server.url``."""

    def __init__(self, fake: FakeTencentSms | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake or FakeTencentSms()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server: BaseWSGIServer = make_server(host, port, self.fake.wsgi, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> FakeTencentSmsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
