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

from typing import Any, Protocol

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


def channels() -> dict[str, Channel]:
    """Every channel the worker can deliver on, by the name outbox rows carry."""
    from app.wechat.subscribe import SubscribeChannel

    subscribe = SubscribeChannel()
    return {subscribe.name: subscribe}
