"""The channel interface, and the one place that says which channels exist.

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

from collections.abc import Callable
from typing import Any, Protocol

from flask import current_app

from app.notify.models import OutboxMessage


class Retry(Exception):
    """Try again later (provider down, rate limited)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class GiveUp(Exception):
    """Never going to work (no grant, bad data): the message is dead."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Channel(Protocol):
    name: str

    def prepare(self, message: OutboxMessage) -> Any: ...

    def send(self, prepared: Any) -> None: ...

    def record(self, prepared: Any, outcome: str, code: str | None) -> None: ...


SANDBOX = "sandbox"  # records, never sends: training mode and training reports
NONE = "none"  # no working channel: the row is kept, dead, never claimed by the worker


def configured_channels() -> list[str]:
    """The channels that can deliver now, by name: those whose settings are complete, and the sandbox. In
    training mode (``QZBG_TRAINING=1``) only the sandbox: nothing real leaves. ``/readyz`` shows this list."""
    from app.wechat.client import configured as wechat_configured

    settings = current_app.config["QZBG"]
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


def channels() -> dict[str, Channel]:
    """Every channel the worker can deliver on now, by the name outbox rows carry: only configured ones."""
    from app.notify.email import EmailChannel
    from app.notify.sandbox import SandboxChannel
    from app.notify.sms import SmsChannel
    from app.notify.wecom import WeComChannel
    from app.wechat.subscribe import SubscribeChannel

    known: dict[str, Callable[[], Channel]] = {
        "wecom": WeComChannel, "email": EmailChannel, "sms": SmsChannel, "wechat_subscribe": SubscribeChannel,
        SANDBOX: SandboxChannel,
    }
    return {name: known[name]() for name in configured_channels()}
