"""How a call to an outside service that delivers a message ended, when it did not simply succeed: try again
later, or never. The notify channels (app.notify.channels) pass them on to the worker."""

from __future__ import annotations


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
