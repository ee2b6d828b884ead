"""E-mail to staff: plain text with an HTML alternative, sent by our SMTP client (app.clients.smtp, which says
how it connects and what each of the server's answers means)."""

from __future__ import annotations

from app.auth.models import StaffUser
from app.clients.smtp import get_mailer
from app.notify.staff import StaffChannel, StaffMessage


class EmailChannel(StaffChannel):
    name = "email"

    def address(self, user: StaffUser) -> str | None:
        return user.email

    def send(self, prepared: StaffMessage) -> None:
        mailer = get_mailer()
        r = prepared.rendered
        mailer.send(mailer.build(prepared.address, r.title, r.text, r.html, prepared.outbox_id))
