"""WeCom (企业微信): our client around wechatpy's enterprise client, built once from the settings (``get_wecom``);
the staff channel that uses it is app.notify.wecom.

- Every call goes to ``QZBG_WECOM_API_BASE`` (government WeCom and private deployments have their own host; the
  fake in tests and demos), with a timeout; wechatpy's own retry is off.
- The access token (``gettoken``, one per corp and app secret) lives in the shared store the mini-program's
  token uses (``app.clients.tokens``: Redis, a PostgreSQL row, or a locked file), so every worker fetches it
  once per expiry.
- A text card per message, ``enable_duplicate_check`` on (a redelivery after a worker died within 30 minutes
  is dropped by WeCom, not shown twice).
- Outcomes: 40014/42001 (token invalid or expired) refresh the token once and try again; 81013 (the user is
  not visible to the app), 60020 (our address is not trusted) and a recipient named in ``invaliduser`` end the
  message with a clear reason (an admin must fix the user or the app); 45009/45033 (limits), -1 (busy), 5xx,
  timeouts and refused connections are retried later; anything else is permanent.
"""

from __future__ import annotations

import logging
import threading

import requests
from flask import current_app
from wechatpy.enterprise import WeChatClient as EnterpriseClient
from wechatpy.exceptions import WeChatClientException

from app.clients.outcomes import GiveUp, Retry
from app.clients.tokens import TokenCache, shared_cache
from app.clients.wechat import settle_environment
from app.config import Settings

log = logging.getLogger("qzbg.notify")
TOKEN_ERRORS = {40001, 40014, 42001}
RETRY_LATER = {-1, 45009, 45033}
PERMANENT = {81013: "recipient_not_visible", 60020: "ip_not_trusted"}
DUPLICATE_CHECK_SECONDS = 1800


class _Client(EnterpriseClient):  # type: ignore[misc]
    """wechatpy's enterprise client with every URL under our base and the token from the shared cache."""

    def __init__(self, corpid: str, secret: str, base: str, timeout: float, cache: TokenCache) -> None:
        super().__init__(corpid, secret, timeout=timeout, auto_retry=False)
        settle_environment(self._http, base)
        self.base = base
        self.cache = cache
        self.API_BASE_URL = f"{base}/cgi-bin/"

    @property
    def access_token(self) -> str:
        return self.cache.current() or self.cache.refresh(None, self.fetch_token)

    def fetch_token(self, force_refresh: bool) -> tuple[str, int]:
        """``GET /cgi-bin/gettoken``: WeCom answers the live token again until it expires."""
        try:
            response = self._http.get(f"{self.base}/cgi-bin/gettoken",
                                      params={"corpid": self.corp_id, "corpsecret": self.secret},
                                      timeout=self.timeout)
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError):
            raise Retry("wecom:gettoken_unavailable") from None
        if result.get("errcode"):
            raise Retry(f"wecom:gettoken:{int(result['errcode'])}")  # bad corpid or secret: fixed by an admin
        log.info("wecom_access_token_fetched")
        return str(result["access_token"]), int(result.get("expires_in", 7200))


class WeComClient:
    """Our class around WeCom: one method, each outcome a ``Retry`` or a ``GiveUp``, or nothing (sent)."""

    def __init__(self, corpid: str, secret: str, agentid: str, base: str, timeout: float, cache: TokenCache) -> None:
        self.agentid = int(agentid)
        self.client = _Client(corpid, secret, base, timeout, cache)

    def send_textcard(self, userid: str, card: dict[str, str]) -> None:
        msg = {"msgtype": "textcard", "textcard": card, "enable_duplicate_check": 1,
               "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}
        for attempt in (1, 2):
            token = self.client.access_token
            try:
                result = self.client.message.send(self.agentid, userid, msg=msg)
            except WeChatClientException as exc:
                code = exc.errcode
                if code is None:
                    raise Retry(f"wecom:http_{getattr(exc.response, 'status_code', 'error')}") from None
                code = int(code)
                if code in TOKEN_ERRORS and attempt == 1:
                    log.info("wecom_token_rejected", extra={"errcode": code})
                    self.client.cache.refresh(token, self.client.fetch_token)
                    continue
                if code in TOKEN_ERRORS or code in RETRY_LATER:
                    raise Retry(f"wecom:{code}") from None
                raise GiveUp(f"wecom:{code}:{PERMANENT.get(code, 'refused')}") from None
            except requests.Timeout:
                raise Retry("wecom:timeout") from None
            except requests.RequestException:
                raise Retry("wecom:unreachable") from None
            invalid = set(str(result.get("invaliduser") or "").split("|")) - {""}
            if invalid & set(userid.split("|")):
                raise GiveUp("wecom:invaliduser:recipient_not_visible")
            return
        raise Retry("wecom:token")  # pragma: no cover - the loop always returns or raises


_build_lock = threading.Lock()


def get_wecom() -> WeComClient:
    """The app's WeCom client, built once from the settings."""
    client: WeComClient | None = current_app.extensions.get("qzbg.wecom")
    if client is not None:
        return client
    with _build_lock:
        client = current_app.extensions.get("qzbg.wecom")
        if client is None:
            s: Settings = current_app.config["QZBG"]
            client = WeComClient(s.wecom_corpid or "", s.wecom_secret or "", s.wecom_agentid or "0", s.wecom_api_base,
                                 s.notify_timeout, shared_cache(s, f"wecom-{s.wecom_corpid}-{s.wecom_agentid}"))
            current_app.extensions["qzbg.wecom"] = client
    return client
