"""Subscribe messages: a reporter-visible status change reaches the reporter's WeChat.

Queued in the outbox (channel ``wechat_subscribe``) with the status change, only
when the reporter holds a grant for the status template; sent by the notify
worker through ``SubscribeChannel``. The template data carries the tracking number, a short status, a time
and a fixed hint: nothing personal goes to Tencent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import Any

from app.clients.wechat import WeChatBadRequest, WeChatError, WeChatRefused, get_gateway
from app.extensions import db
from app.notify.channels import GiveUp, Retry
from app.notify.models import OutboxMessage
from app.reporters import subscriptions
from app.reporters.models import Reporter
from app.reports.models import Report
from app.reports.states import REPORTER_STATUS

CHANNEL = "wechat_subscribe"
CST = dt.timezone(dt.timedelta(hours=8))
# phrase values are at most 5 Chinese characters.
SHORT_STATUS = {"submitted": "已提交", "received": "已受理", "transferred": "已移送公安", "closed": "已办结"}
HINT = "请进入小程序查看办理进度"
# WeChat's value limits per keyword type (characters).
LIMITS = {"thing": 20, "phrase": 5, "character_string": 32, "time": 40}
MINIPROGRAM_STATE = {"release": "formal", "trial": "trial", "develop": "developer"}


def template_data(tracking_no: str, status: str, at: dt.datetime) -> dict[str, str]:
    """The status template's values, each within WeChat's limit for its keyword type."""
    data = {
        "character_string1": tracking_no,
        "phrase2": SHORT_STATUS[status],
        "time3": at.astimezone(CST).strftime("%Y-%m-%d %H:%M"),
        "thing4": HINT,
    }
    for key, value in data.items():
        kind = key.rstrip("0123456789")
        assert len(value) <= LIMITS[kind], f"{key} exceeds WeChat's {LIMITS[kind]}-character limit"
    return data


def status_payload(report: Report, now: dt.datetime, template_id: str | None) -> dict[str, Any] | None:
    """The outbox payload of a status message for the report's reporter, if they granted one for ``template_id``
    (``QZBG_WECHAT_STATUS_TEMPLATE_ID``; None: no status messages)."""
    if not template_id or report.reporter_id is None:
        return None
    if subscriptions.remaining(report.reporter_id, template_id) <= 0:
        return None
    return {"template_id": template_id, "status": str(REPORTER_STATUS[report.status]), "at": now.isoformat()}


@dataclasses.dataclass(frozen=True)
class Prepared:
    reporter_id: Any
    openid: str
    template_id: str
    data: dict[str, str]
    page: str
    state: str


class SubscribeChannel:
    """Mini-program subscribe messages; a refused or malformed one ends without retry."""

    name = CHANNEL

    def __init__(self, detail_page: str, env_version: str) -> None:
        # QZBG_WECHAT_DETAIL_PAGE and QZBG_WECHAT_ENV_VERSION: where the message opens the mini-program.
        self.detail_page, self.env_version = detail_page, env_version

    def prepare(self, message: OutboxMessage) -> Prepared:
        report = db.session.get(Report, message.report_id)
        reporter = db.session.get(Reporter, message.reporter_id)
        if report is None or reporter is None or reporter.openid_data is None:
            raise GiveUp("recipient_gone")
        payload: dict[str, Any] = message.payload
        return Prepared(
            reporter_id=reporter.id,
            openid=reporter.unseal("openid_data"),
            template_id=str(payload["template_id"]),
            data=template_data(report.tracking_no, str(payload["status"]), dt.datetime.fromisoformat(payload["at"])),
            page=f"{self.detail_page}?id={report.id}",
            state=MINIPROGRAM_STATE[self.env_version],
        )

    def send(self, prepared: Prepared) -> None:
        try:
            get_gateway().send_subscribe_message(
                prepared.openid, prepared.template_id, prepared.data, page=prepared.page, state=prepared.state
            )
        except WeChatRefused:
            raise GiveUp("43101") from None
        except WeChatBadRequest as exc:
            raise GiveUp(f"wechat:{exc.errcode}") from None
        except WeChatError as exc:
            raise Retry(f"wechat:{exc.errcode}") from None

    def recording(self, batch: list[Prepared]) -> contextlib.AbstractContextManager[None]:
        """Around the ``record`` calls of a batch: the grants they use are locked in one statement."""
        return subscriptions.grants_locked((p.reporter_id, p.template_id) for p in batch)

    def record(self, prepared: Prepared, outcome: str, code: str | None) -> None:
        if outcome == "sent":
            subscriptions.use_grant(prepared.reporter_id, prepared.template_id)
        elif code == "43101":
            subscriptions.use_grant(prepared.reporter_id, prepared.template_id, exhausted=True)
