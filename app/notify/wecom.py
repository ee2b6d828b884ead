"""WeCom (企业微信) application messages to staff: a text card per message, through our WeCom client
(app.clients.wecom, which says what each of WeCom's answers means)."""

from __future__ import annotations

import logging
from typing import Any

from app.auth.models import StaffUser
from app.clients.wecom import get_wecom
from app.notify import messages
from app.notify.staff import StaffChannel, StaffMessage

log = logging.getLogger("qzbg.notify")


class WeComChannel(StaffChannel):
    name = "wecom"

    def address(self, user: StaffUser) -> str | None:
        return user.wecom_userid

    def send(self, prepared: StaffMessage) -> None:
        get_wecom().send_textcard(prepared.address, messages.wecom_card(prepared.rendered, prepared.facts))

    def record(self, prepared: Any, outcome: str, code: str | None) -> None:
        if code and code.startswith("wecom:") and outcome == "dead":
            log.warning("wecom_recipient_refused", extra={"error": code})
