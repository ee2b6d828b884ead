"""``flask wechat fake-server``: the fake WeChat for tests and demos."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.clients.fake_wechat import FakeWeChat

wechat_cli = AppGroup("wechat", help="WeChat integration tools.")


@wechat_cli.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8901, show_default=True)
@click.option("--token-ttl", default=7200, show_default=True, help="Access-token lifetime in seconds.")
def fake_server(host: str, port: int, token_ttl: int) -> None:
    """Serve the fake WeChat/WeCom (appid/secret from QZBG_WECHAT_APPID/SECRET, the WeCom corp, secret and agent
    from QZBG_WECOM_*). Never in production."""
    from werkzeug.serving import run_simple

    settings = current_app.config["QZBG"]
    fake = FakeWeChat(
        appid=settings.wechat_appid or "wx-fake-appid", secret=settings.wechat_secret or "fake-secret",
        token_ttl=token_ttl,
    )
    if settings.wecom_corpid:
        fake.wecom_corpid, fake.wecom_secret = settings.wecom_corpid, settings.wecom_secret or ""
        fake.wecom_agentid = int(settings.wecom_agentid or 0)
    click.echo(f"fake WeChat/WeCom on http://{host}:{port} (appid {fake.appid}, WeCom corp {fake.wecom_corpid} "
               f"agent {fake.wecom_agentid}); set QZBG_WECHAT_API_BASE and QZBG_WECOM_API_BASE to it")
    run_simple(host, port, fake.wsgi, threaded=True)
