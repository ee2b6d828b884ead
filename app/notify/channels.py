"""The channel interface, and which channels are configured (their implementations by name: app.notify.registry).

A channel delivers one outbox message in three steps, so no transaction (on
SQLite, no write lock) is held while a provider is slow:

- ``prepare(message)``: inside the worker's transaction, read what sending needs
  (recipient, text) into a plain value; raise ``GiveUp`` when it can never work;
- ``send(prepared)``: no transaction, network I/O only; raise ``Retry`` for a
  temporary failure, ``GiveUp`` for a permanent one;
- ``record(prepared, outcome)``: back inside a transaction, the channel's own
  bookkeeping for the outcome (a used subscription grant, say).
"""

from __future__ import annotations

from typing import Any, Protocol

from app.clients.outcomes import GiveUp, Retry
from app.config import Settings
from app.notify.models import OutboxMessage

__all__ = ["NONE", "SANDBOX", "Channel", "GiveUp", "Retry", "configured_channels"]


class Channel(Protocol):
    name: str

    def prepare(self, message: OutboxMessage) -> Any: ...

    def send(self, prepared: Any) -> None: ...

    def record(self, prepared: Any, outcome: str, code: str | None) -> None: ...


SANDBOX = "sandbox"  # records, never sends: training mode and training reports
NONE = "none"  # no working channel: the row is kept, dead, never claimed by the worker


def configured_channels(settings: Settings) -> list[str]:
    """The channels that can deliver now, by name: those whose settings are complete, and the sandbox. In
    training mode (``QZBG_TRAINING=1``) only the sandbox: nothing real leaves. ``/readyz`` shows this list."""
    from app.clients.wechat import configured as wechat_configured

    if settings.training:
        return [SANDBOX]
    names = []
    if settings.wecom_corpid:
        names.append("wecom")
    if settings.smtp_url:
        names.append("email")
    if settings.sms_secret_id:
        names.append("sms")
    if wechat_configured(settings):
        names.append("wechat_subscribe")
    return [*names, SANDBOX]
