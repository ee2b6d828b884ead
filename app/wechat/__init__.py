"""WeChat's errors as the envelope, and the fake server's CLI (the client itself: app.clients.wechat; login:
app.reporters.login; subscribe messages: app.notify.subscribe)."""

from __future__ import annotations

from flask import Flask
from flask.typing import ResponseReturnValue

from app.clients.wechat import WeChatBusy, WeChatError, WeChatInvalidCode, WeChatRateLimited, WeChatUnavailable
from app.errors import AppError, RateLimitedError, UnauthorizedError, UpstreamUnavailableError, render_error


def to_app_error(exc: WeChatError) -> AppError:
    """What a user is told when WeChat says no; never a 500."""
    if isinstance(exc, WeChatInvalidCode):
        return UnauthorizedError("微信登录凭证无效或已使用，请重新进入小程序后再试")
    if isinstance(exc, WeChatRateLimited):
        return RateLimitedError("微信接口调用过于频繁，请稍后再试", headers={"Retry-After": "60"})
    retry_after = str(exc.retry_after or 30) if isinstance(exc, WeChatUnavailable) else "30"
    if isinstance(exc, WeChatBusy):
        return UpstreamUnavailableError("微信服务响应缓慢，请稍后再试", headers={"Retry-After": retry_after})
    return UpstreamUnavailableError("微信服务暂时不可用，请稍后再试", headers={"Retry-After": retry_after})


def init_app(app: Flask) -> None:
    """Map WeChat errors to the envelope."""

    @app.errorhandler(WeChatError)
    def handle_wechat_error(exc: WeChatError) -> ResponseReturnValue:
        return render_error(to_app_error(exc))
