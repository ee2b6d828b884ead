"""``flask wechat fake-server``: the fake WeChat for tests and demos."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.wechat.fake import FakeWeChat

wechat_cli = AppGroup("wechat", help="WeChat integration tools.")


@wechat_cli.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8901, show_default=True)
@click.option("--token-ttl", default=7200, show_default=True, help="Access-token lifetime in seconds.")
def fake_server(host: str, port: int, token_ttl: int) -> None:
    """Serve the fake WeChat (appid/secret from QZBG_WECHAT_APPID/SECRET). Never in production."""
    from werkzeug.serving import run_simple

    settings = current_app.config["QZBG"]
    fake = FakeWeChat(
        appid=settings.wechat_appid or "wx-fake-appid", secret=settings.wechat_secret or "fake-secret",
        token_ttl=token_ttl,
    )
    click.echo(f"fake WeChat on http://{host}:{port} (appid {fake.appid}); set QZBG_WECHAT_API_BASE to it")
    run_simple(host, port, fake.wsgi, threaded=True)
