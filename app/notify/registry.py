"""Every channel the worker can deliver on, by the name outbox rows carry (the interface: app.notify.channels)."""

from __future__ import annotations

from collections.abc import Callable

from app.notify.channels import SANDBOX, Channel, configured_channels


def channels() -> dict[str, Channel]:
    """Every channel the worker can deliver on now, by the name outbox rows carry: only configured ones."""
    from app.notify.email import EmailChannel
    from app.notify.sandbox import SandboxChannel
    from app.notify.sms import SmsChannel
    from app.notify.subscribe import SubscribeChannel
    from app.notify.wecom import WeComChannel

    known: dict[str, Callable[[], Channel]] = {
        "wecom": WeComChannel, "email": EmailChannel, "sms": SmsChannel, "wechat_subscribe": SubscribeChannel,
        SANDBOX: SandboxChannel,
    }
    return {name: known[name]() for name in configured_channels()}
