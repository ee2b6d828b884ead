"""``flask wechat fake-server`` serves WeChat's protocol on a port, as CONTRACT.md says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_server_url(tmp_path):
    port = free_port()
    from app.crypto import keyfile as keyring

    keyring.save(keyring.generate(), tmp_path / "keyring.json")
    env = {
        "PATH": os.environ.get("PATH", ""), "QZBG_INSTANCE_PATH": str(tmp_path), "QZBG_SECRET_KEY": "s" * 40,
        "QZBG_WECHAT_APPID": "wx-cli-appid", "QZBG_WECHAT_SECRET": "cli-secret",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "wechat", "fake-server", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_fake_server_cli_answers_the_login_codes_of_the_contract(fake_server_url):
    def code2session(code):
        return requests.get(
            f"{fake_server_url}/sns/jscode2session",
            params={"appid": "wx-cli-appid", "secret": "cli-secret", "js_code": code,
                    "grant_type": "authorization_code"},
            timeout=5,
        ).json()

    assert code2session("dev-alice")["openid"] == "o-dev-alice"
    assert code2session("dev-alice")["errcode"] == 40163
    assert code2session("whatever")["errcode"] == 40029
    token = requests.post(
        f"{fake_server_url}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "wx-cli-appid", "secret": "cli-secret"}, timeout=5,
    ).json()
    assert token["expires_in"] == 7200
    wrong = requests.get(
        f"{fake_server_url}/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": "wx-cli-appid", "secret": "nope"}, timeout=5,
    ).json()
    assert wrong["errcode"] == 40125
