"""Text messages to staff through Tencent Cloud SMS: the template's parameters, sent by our SMS client
(app.clients.sms, which says what each of Tencent's answers means)."""

from __future__ import annotations

from app.auth.models import StaffUser
from app.clients.sms import get_sms
from app.notify.staff import StaffChannel, StaffMessage


class SmsChannel(StaffChannel):
    name = "sms"

    def address(self, user: StaffUser) -> str | None:
        return user.unseal("mobile_data") if user.mobile_data else None

    def send(self, prepared: StaffMessage) -> None:
        get_sms().send(prepared.address, prepared.rendered.sms_params)
