"""Every channel the worker can deliver on, by the name outbox rows carry (the interface: app.notify.channels)."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.notify.channels import SANDBOX, Channel, configured_channels


def channels(settings: Settings) -> dict[str, Channel]:
    """Every channel the worker can deliver on now, by the name outbox rows carry: only configured ones, each
    with the settings it needs (the staff links' ``public_url``; the mini-program's page and version)."""
    from app.notify.email import EmailChannel
    from app.notify.sandbox import SandboxChannel
    from app.notify.sms import SmsChannel
    from app.notify.subscribe import SubscribeChannel
    from app.notify.wecom import WeComChannel

    known: dict[str, Callable[[], Channel]] = {
        "wecom": lambda: WeComChannel(settings.public_url), "email": lambda: EmailChannel(settings.public_url),
        "sms": lambda: SmsChannel(settings.public_url),
        "wechat_subscribe": lambda: SubscribeChannel(settings.wechat_detail_page, settings.wechat_env_version),
        SANDBOX: lambda: SandboxChannel(settings.public_url),
    }
    return {name: known[name]() for name in configured_channels(settings)}
