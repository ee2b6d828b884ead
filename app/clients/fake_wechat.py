"""A fake WeChat server for tests and demos, speaking the real protocol over HTTP.

It serves the endpoints the app uses, with WeChat's request and response shapes
and error codes, checks appid/secret and access tokens, and records every call.
Switches (``FakeWeChat.mode``, or ``POST /__fake__/mode``) make it fail with 5xx,
hang past a client's timeout, answer "system busy" (-1) or the frequency limit
(45011). Production never starts it.

It also plays WeCom (企业微信, the same "fake WeChat/WeCom" of ``make demo``): ``GET /cgi-bin/gettoken`` and
``POST /cgi-bin/message/send`` with WeCom's shapes and codes. ``FakeWeChat.wecom_fail(code, times)`` (or
``POST /__fake__/wecom {"fail": [45009, ...], "hidden": ["userid"]}``) answers the next sends with those
errcodes; ``FakeWeChat.wecom_answer = code`` (or ``{"answer": code}``, ``null`` to clear) answers every send
with it until cleared (a provider fault that lasts: -1 busy, 42001 on every token ...); a hidden user is
outside the app's visible range (81013 when every recipient is, else named in
``invaliduser``).

Login codes: ``dev-<name>`` yields openid ``o-dev-<name>``; any other code is 40029;
a code used twice is 40163. Phone codes: ``phone-<11 digits>`` yield that number.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

import qrcode
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

POLL_INTERVAL = 0.05  # seconds between serve_forever's shutdown checks
MODES = ("normal", "error_5xx", "hang", "busy", "freq_limit")
LOGIN_CODE = re.compile(r"^dev-([A-Za-z0-9_.-]{1,40})$")
PHONE_CODE = re.compile(r"^phone-(1[3-9]\d{9})$")
# Subscribe-message value limits by keyword type (WeChat's documented rules).
VALUE_RULES: dict[str, tuple[int, re.Pattern[str] | None]] = {
    "thing": (20, None),
    "phrase": (5, re.compile(r"^[\u4e00-\u9fff]+$")),
    "character_string": (32, re.compile(r"^[A-Za-z0-9_\-.:;,/|#*]+$")),
    "number": (32, re.compile(r"^[\d.]+$")),
    "time": (40, re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$|^\d{2}:\d{2}$")),
    "date": (40, re.compile(r"^\d{4}-\d{2}-\d{2}")),
    "name": (10, None),
}


@dataclasses.dataclass
class Call:
    path: str
    query: dict[str, str]
    body: bytes
    at: float


class FakeWeChat:
    """State of the fake: credentials, tokens, codes, grants, switches and a call log."""

    def __init__(
        self, appid: str = "wx-fake-appid", secret: str = "fake-secret", token_ttl: int = 7200  # noqa: S107 - fake
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.token_ttl = token_ttl
        self.mode = "normal"
        self.url: str | None = None  # set when served by FakeWeChatServer
        self.hang_seconds = 3.0
        self.hang_paths: set[str] | None = None  # None: "hang" mode hangs every path
        # A hang ends when this is set or after ``hang_seconds``: a test releases the hanging calls once it has
        # seen what it waits for, instead of counting on the machine to be quick within a fixed time.
        self.release = threading.Event()
        self.watermark_appid: str | None = None  # None: the real appid
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch)
        self.stable_token: str | None = None
        self.used_codes: set[str] = set()
        self.session_keys: dict[str, str] = {}
        self.grants: dict[tuple[str, str], int] = {}  # (openid, template_id) -> one-time grants left
        self.sent: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.token_fetches = 0
        self._lock = threading.Lock()
        # WeCom
        self.wecom_corpid = "ww-fake-corp"
        self.wecom_secret = "fake-wecom-secret"  # noqa: S105 - a fake's
        self.wecom_agentid = 1000002
        self.wecom_tokens: dict[str, float] = {}
        self.wecom_token_fetches = 0
        self.wecom_hidden: set[str] = set()
        self.wecom_failures: list[int] = []  # errcodes the next sends answer, in order
        self.wecom_answer: int | None = None  # errcode every send answers until cleared
        self.wecom_sent: list[dict[str, Any]] = []
        self.wecom_duplicates = 0

    # -- controls used by tests ---------------------------------------------
    def grant(self, openid: str, template_id: str, count: int = 1) -> None:
        """What the user's tap on "允许" in wx.requestSubscribeMessage does at WeChat."""
        with self._lock:
            self.grants[(openid, template_id)] = self.grants.get((openid, template_id), 0) + count

    def expire_tokens(self) -> None:
        """Every issued access token now answers 42001."""
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)
            self.stable_token = None

    def wecom_fail(self, code: int, times: int = 1) -> None:
        """The next ``times`` message sends answer ``code`` (after the token check passes)."""
        with self._lock:
            self.wecom_failures += [code] * times

    def wecom_expire_tokens(self) -> None:
        with self._lock:
            self.wecom_tokens = dict.fromkeys(self.wecom_tokens, 0.0)

    # -- protocol -----------------------------------------------------------
    def _err(self, code: int, msg: str) -> dict[str, Any]:
        return {"errcode": code, "errmsg": f"{msg} rid: {secrets.token_hex(4)}"}

    def _check_credentials(self, appid: str | None, secret: str | None) -> dict[str, Any] | None:
        if appid != self.appid:
            return self._err(40013, "invalid appid")
        if secret != self.secret:
            return self._err(40125, "invalid appsecret")
        return None

    def _issue_token(self) -> dict[str, Any]:
        token = "FAKE_AT_" + secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_ttl
        self.token_fetches += 1
        return {"access_token": token, "expires_in": self.token_ttl}

    def _check_token(self, token: str | None) -> dict[str, Any] | None:
        if not token or token not in self.tokens:
            return self._err(40001, "invalid credential, access_token is invalid or not latest")
        if self.tokens[token] <= time.time():
            return self._err(42001, "access_token expired")
        return None

    def _check_client(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """What both token endpoints check first: the grant type, then appid and secret."""
        if params.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        return self._check_credentials(params.get("appid"), params.get("secret"))

    def token(self, query: dict[str, str]) -> dict[str, Any]:
        error = self._check_client(query)
        if error:
            return error
        with self._lock:
            # The plain token endpoint invalidates the previous token, as WeChat's does.
            self.tokens = {}
            return self._issue_token()

    def stable_token_(self, body: dict[str, Any]) -> dict[str, Any]:
        error = self._check_client(body)
        if error:
            return error
        with self._lock:
            current = self.stable_token
            if current and self.tokens.get(current, 0) > time.time() and not body.get("force_refresh"):
                self.token_fetches += 1
                return {"access_token": current, "expires_in": int(self.tokens[current] - time.time())}
            if self.stable_token:
                self.tokens.pop(self.stable_token, None)
            issued = self._issue_token()
            self.stable_token = issued["access_token"]
            return issued

    def jscode2session(self, query: dict[str, str]) -> dict[str, Any]:
        error = self._check_credentials(query.get("appid"), query.get("secret"))
        if error:
            return error
        if query.get("grant_type") != "authorization_code":
            return self._err(40002, "invalid grant_type")
        code = query.get("js_code", "")
        with self._lock:
            if code in self.used_codes:
                return self._err(40163, "code been used")
            match = LOGIN_CODE.match(code)
            if not match:
                return self._err(40029, "invalid code")
            self.used_codes.add(code)
            openid = f"o-dev-{match.group(1)}"
            self.session_keys[openid] = secrets.token_urlsafe(18)
            return {"session_key": self.session_keys[openid], "openid": openid}

    def phone_number(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        error = self._check_token(query.get("access_token"))
        if error:
            return error
        code = body.get("code")
        if not isinstance(code, str):
            return self._err(47001, "data format error")
        with self._lock:
            if code in self.used_codes:
                return self._err(40163, "code been used")
            match = PHONE_CODE.match(code)
            if not match:
                return self._err(40029, "invalid code")
            self.used_codes.add(code)
        number = match.group(1)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": number,
                "purePhoneNumber": number,
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": self.watermark_appid or self.appid},
            },
        }

    def wxacode(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any] | bytes:
        error = self._check_token(query.get("access_token"))
        if error:
            return error
        scene = body.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32 or not scene.isascii() or "%" in scene:
            return self._err(40169, "invalid length for scene, or the data is not json string")
        page = body.get("page", "")
        if not isinstance(page, str) or page.startswith("/"):
            return self._err(41030, "invalid page")
        image = qrcode.make(f"wxacode|{page}|{scene}")
        out = io.BytesIO()
        image.save(out)
        return out.getvalue()

    def subscribe_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        error = self._check_token(query.get("access_token"))
        if error:
            return error
        openid, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(openid, str) or openid not in self.session_keys:
            return self._err(40003, "invalid openid")
        if not isinstance(template_id, str) or not isinstance(data, dict):
            return self._err(47003, "argument invalid! data or template_id missing")
        for key, item in data.items():
            kind = re.sub(r"\d+$", "", key)
            value = item.get("value") if isinstance(item, dict) else None
            rule = VALUE_RULES.get(kind)
            if rule is None or not isinstance(value, str) or not value:
                return self._err(47003, f"argument invalid! data.{key}.value invalid")
            limit, pattern = rule
            if len(value) > limit or (pattern is not None and not pattern.match(value)):
                return self._err(47003, f"argument invalid! data.{key}.value exceeds limit")
        with self._lock:
            left = self.grants.get((openid, template_id), 0)
            if left <= 0:
                return self._err(43101, "user refuse to accept the msg")
            self.grants[(openid, template_id)] = left - 1
            self.sent.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(48)}

    # -- WeCom --------------------------------------------------------------
    def wecom_gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("corpid") != self.wecom_corpid:
            return self._err(40013, "invalid corpid")
        if query.get("corpsecret") != self.wecom_secret:
            return self._err(40001, "invalid credential")
        with self._lock:
            self.wecom_token_fetches += 1
            now = time.time()
            live = [(t, at) for t, at in self.wecom_tokens.items() if at > now]
            if live:  # WeCom answers the same token while it lives
                token, expires = live[-1]
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": int(expires - now)}
            token = "FAKE_WECOM_" + secrets.token_urlsafe(24)
            self.wecom_tokens[token] = now + self.token_ttl
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl}

    def wecom_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        token = query.get("access_token")
        with self._lock:
            expires = self.wecom_tokens.get(token or "")
            if expires is None:
                return self._err(40014, "invalid access_token")
            if expires <= time.time():
                return self._err(42001, "access_token expired")
            if self.wecom_failures:
                return self._err(self.wecom_failures.pop(0), "injected by the fake")
            if self.wecom_answer is not None:
                return self._err(self.wecom_answer, "injected by the fake until cleared")
        if body.get("agentid") != self.wecom_agentid:
            return self._err(40056, "invalid agentid")
        card = body.get("textcard")
        if body.get("msgtype") != "textcard" or not isinstance(card, dict):
            return self._err(40008, "invalid message type")
        for key, limit in (("title", 128), ("description", 512), ("url", 2048)):
            value = card.get(key)
            if not isinstance(value, str) or not value or len(value.encode()) > limit:
                return self._err(44004 if key != "url" else 40054, f"textcard.{key} invalid")
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        if not users:
            return self._err(40031, "invalid userid list")
        invalid = [u for u in users if u in self.wecom_hidden]
        if len(invalid) == len(users):
            return self._err(81013, "user & party & tag all invalid")
        with self._lock:
            key = json.dumps([users, card], sort_keys=True, ensure_ascii=False)
            now = time.time()
            duplicate = body.get("enable_duplicate_check") == 1 and any(
                sent.get("_key") == key and now - sent["_at"] < int(body.get("duplicate_check_interval", 1800))
                for sent in self.wecom_sent)
            if duplicate:
                self.wecom_duplicates += 1
            else:
                self.wecom_sent.append({**body, "_key": key, "_at": now})
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "invalidparty": "",
                "invalidtag": "", "unlicenseduser": "", "msgid": secrets.token_urlsafe(16),
                "response_code": secrets.token_urlsafe(12)}

    # -- WSGI ---------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        query = dict(request.args.items())
        body_bytes = request.get_data()
        if request.path.startswith("/__fake__/"):
            return self._control(request.path, body_bytes)
        with self._lock:
            self.calls.append(Call(request.path, query, body_bytes, time.time()))
        if self.mode == "error_5xx":
            return Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html")
        if self.mode == "hang" and (self.hang_paths is None or request.path in self.hang_paths):
            self.release.wait(self.hang_seconds)
        if self.mode == "busy":
            return self._json(self._err(-1, "system error"))
        if self.mode == "freq_limit" and request.path != "/cgi-bin/token":
            return self._json(self._err(45011, "api minute-quota reach limit  mustslower  retry next minute"))
        try:
            body = json.loads(body_bytes) if body_bytes else {}
        except ValueError:
            return self._json(self._err(47001, "data format error"))
        if not isinstance(body, dict):
            return self._json(self._err(47001, "data format error"))
        path = request.path
        result: dict[str, Any] | bytes
        if path == "/cgi-bin/token" and request.method == "GET":
            result = self.token(query)
        elif path == "/cgi-bin/stable_token" and request.method == "POST":
            result = self.stable_token_(body)
        elif path == "/sns/jscode2session" and request.method == "GET":
            result = self.jscode2session(query)
        elif path == "/wxa/business/getuserphonenumber" and request.method == "POST":
            result = self.phone_number(query, body)
        elif path == "/wxa/getwxacodeunlimit" and request.method == "POST":
            result = self.wxacode(query, body)
        elif path == "/cgi-bin/message/subscribe/send" and request.method == "POST":
            result = self.subscribe_send(query, body)
        elif path == "/cgi-bin/gettoken" and request.method == "GET":
            result = self.wecom_gettoken(query)
        elif path == "/cgi-bin/message/send" and request.method == "POST":
            result = self.wecom_send(query, body)
        else:
            return Response("404 page not found", status=404, content_type="text/plain")
        if isinstance(result, bytes):
            return Response(result, content_type="image/png")
        return self._json(result)

    def _json(self, payload: dict[str, Any]) -> Response:
        # WeChat answers errors with HTTP 200 and a JSON body.
        return Response(json.dumps(payload, ensure_ascii=False), content_type="application/json; charset=UTF-8")

    def _control(self, path: str, body: bytes) -> Response:
        data = json.loads(body or b"{}")
        if path == "/__fake__/mode" and data.get("mode") in MODES:
            self.mode = data["mode"]
        elif path == "/__fake__/grant":
            self.grant(str(data["openid"]), str(data["template_id"]), int(data.get("count", 1)))
        elif path == "/__fake__/expire-tokens":
            self.expire_tokens()
            self.wecom_expire_tokens()
        elif path == "/__fake__/wecom":
            for code in data.get("fail", []):
                self.wecom_fail(int(code))
            self.wecom_hidden = {str(u) for u in data.get("hidden", self.wecom_hidden)}
            if "answer" in data:
                self.wecom_answer = None if data["answer"] is None else int(data["answer"])
        elif path == "/__fake__/wecom-sent":  # the bench's record: each WeCom message accepted, and when
            with self._lock:
                sent = [{"touser": m.get("touser"), "title": m["textcard"]["title"], "at": m["_at"]}
                        for m in self.wecom_sent]
            return self._json({"sent": sent})
        elif path == "/__fake__/state":
            pass
        else:
            return Response("unknown control", status=404)
        return self._json({"mode": self.mode, "token_fetches": self.token_fetches, "sent": len(self.sent),
                           "wecom_sent": len(self.wecom_sent), "wecom_token_fetches": self.wecom_token_fetches})


class FakeWeChatServer:
    """The fake on 127.0.0.1 in a background thread: ``with FakeWeChatServer() as fake: fake.url``."""

    def __init__(self, fake: FakeWeChat | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake or FakeWeChat()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines: they carry codes
        self.server: BaseWSGIServer = make_server(host, port, self.fake.wsgi, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.fake.url = self.url
        # A short poll interval, so shutdown() returns at once rather than after the default 0.5 s.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
        )

    def __enter__(self) -> FakeWeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
