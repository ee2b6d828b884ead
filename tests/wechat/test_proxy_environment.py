"""The WeChat client reads the proxy environment once, when it is made, and still honours it."""

from __future__ import annotations

import requests

from app.clients.wechat import _Client


class NoCache:
    def current(self):
        return None


def make_client(base: str) -> _Client:
    return _Client("wx-app", "secret", base, 5.0, NoCache())


def test_a_proxy_in_the_environment_is_used_for_wechat(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client("https://api.weixin.qq.com")
    assert client._http.proxies.get("https") == "http://proxy.example:3128"


def test_no_proxy_for_the_wechat_host_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.weixin.qq.com")
    client = make_client("https://api.weixin.qq.com")
    assert "https" not in client._http.proxies


def test_requests_no_longer_scan_the_environment_per_call(monkeypatch):
    client = make_client("http://127.0.0.1:9")
    assert client._http.trust_env is False
    scanned = []
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: scanned.append(a) or {})
    client._http.merge_environment_settings("http://127.0.0.1:9/x", {}, None, None, None)
    assert scanned == []
