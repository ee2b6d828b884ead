"""The fake WeChat on 127.0.0.1 and an app pointed at it; our app served over real HTTP too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.clients.fake_wechat import POLL_INTERVAL, FakeWeChat

TEMPLATE = "TPL_STATUS_CHANGE"


def wechat_settings(fake: FakeWeChat, **overrides: Any) -> dict[str, Any]:
    return {
        "wechat_appid": fake.appid,
        "wechat_secret": fake.secret,
        "wechat_api_base": fake.url,
        # Generous: a loaded machine may take seconds to answer from the fake. A test of a hanging WeChat sets
        # a short one of its own (its call is meant to time out) with WeChat hanging far longer.
        "wechat_timeout": 15.0,
        "wechat_status_template_id": TEMPLATE,
        **overrides,
    }


@pytest.fixture
def app(make_app: Any, fake: FakeWeChat) -> Flask:
    """The app with WeChat credentials for the fake and a generous timeout."""
    return make_app(**wechat_settings(fake))


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on 127.0.0.1 from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
