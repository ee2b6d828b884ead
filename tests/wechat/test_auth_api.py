"""POST /api/v1/auth/wechat and /auth/phone, GET /me: WeChat's answers become the right envelope."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.reporters.models import Reporter, ReporterSession
from tests.wechat.conftest import wechat_settings


def login(client, code="dev-alice"):
    return client.post("/api/v1/auth/wechat", json={"code": code})


def test_login_with_a_dev_code_returns_a_token_for_a_new_reporter(client, fake):
    response = login(client)
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"token", "expires_in", "reporter"}
    assert body["expires_in"] == 7 * 24 * 3600
    assert body["reporter"]["phone_verified"] is False
    assert body["reporter"]["unit"] is None
    assert "session_key" not in response.get_data(as_text=True)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json["id"] == body["reporter"]["id"]


def test_openid_and_session_key_are_sealed_and_the_token_is_stored_hashed(client, fake):
    body = login(client).json
    reporter = db.session.scalars(select(Reporter)).one()
    assert b"o-dev-alice" not in reporter.openid_data
    assert reporter.unseal("openid_data") == "o-dev-alice"
    assert reporter.unseal("session_key_data") == fake.session_keys["o-dev-alice"]
    session = db.session.scalars(select(ReporterSession)).one()
    assert body["token"].encode() not in session.token_hash


def test_the_same_wechat_user_logging_in_again_is_the_same_reporter(client, fake):
    first = login(client).json
    fake.used_codes.clear()  # a new wx.login code for the same user
    second = login(client).json
    assert second["reporter"]["id"] == first["reporter"]["id"]
    assert second["token"] != first["token"]
    assert len(db.session.scalars(select(Reporter)).all()) == 1


def test_invalid_and_reused_codes_are_401(client, fake):
    invalid = login(client, "wrong-code")
    assert invalid.status_code == 401
    assert invalid.json["error"]["code"] == "unauthorized"
    assert invalid.headers["WWW-Authenticate"] == "Bearer"
    assert login(client, "dev-bob").status_code == 200
    reused = login(client, "dev-bob")
    assert reused.status_code == 401
    assert "重新进入小程序" in reused.json["error"]["message"]


def test_wechat_frequency_limit_is_429_with_retry_after(client, fake):
    fake.mode = "freq_limit"
    response = login(client)
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_wechat_down_during_login_is_503_with_retry_after(make_app, fake):
    client = make_app(**wechat_settings(fake, wechat_timeout=2.0)).test_client()
    fake.hang_seconds = 60.0  # "hang": WeChat would answer long after our timeout; released at the end
    try:
        for mode in ("error_5xx", "busy", "hang"):
            fake.mode = mode
            response = login(client, f"dev-{mode.replace('_', '')}")
            assert response.status_code == 503, mode
            assert response.json["error"]["code"] == "upstream_unavailable"
            assert int(response.headers["Retry-After"]) > 0
    finally:
        fake.release.set()
    assert db.session.scalars(select(Reporter)).all() == []


def test_login_answers_503_until_credentials_are_set(make_app, fake):
    app = make_app()  # no QZBG_WECHAT_APPID / SECRET
    response = app.test_client().post("/api/v1/auth/wechat", json={"code": "dev-alice"})
    assert response.status_code == 503
    assert fake.calls == []


def test_login_is_rate_limited_per_ip(make_app, fake):
    app = make_app(**wechat_settings(fake), login_rate_limit="2 per minute")
    client = app.test_client()
    statuses = [client.post("/api/v1/auth/wechat", json={"code": f"dev-r{i}"}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]


def test_bad_login_bodies_are_refused_before_wechat_is_called(client, fake):
    assert client.post("/api/v1/auth/wechat", json={}).status_code == 422
    assert client.post("/api/v1/auth/wechat", json={"code": 5}).status_code == 422
    assert client.post("/api/v1/auth/wechat", json={"code": "x", "extra": 1}).status_code == 422
    assert client.post("/api/v1/auth/wechat", data="code=x").status_code == 415
    assert client.post("/api/v1/auth/wechat", json={"code": "x" * 200}).status_code == 422
    assert fake.calls == []


def test_phone_number_is_verified_sealed_and_masked(client, fake):
    token = login(client).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/auth/phone", json={"code": "phone-13912345678"}, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json == {"phone_verified": True, "phone_masked": "139****5678"}
    reporter = db.session.scalars(select(Reporter)).one()
    assert b"13912345678" not in reporter.phone_data
    me = client.get("/api/v1/me", headers=headers).json
    assert me["phone"] == "13912345678"  # to prefill the next report
    assert me["phone_verified"] is True


def test_phone_call_with_an_expired_token_refreshes_once_and_succeeds(client, fake):
    token = login(client).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/auth/phone", json={"code": "phone-13900000001"}, headers=headers)
    fake.expire_tokens()
    response = client.post("/api/v1/auth/phone", json={"code": "phone-13900000002"}, headers=headers)
    assert response.status_code == 200
    assert fake.token_fetches == 2
    phone_calls = [c for c in fake.calls if c.path == "/wxa/business/getuserphonenumber"]
    assert len(phone_calls) == 3  # first call, rejected call, retried call


def test_a_bad_or_used_phone_code_or_another_apps_watermark_is_422_on_code_not_401(client, fake):
    headers = {"Authorization": f"Bearer {login(client).json['token']}"}
    bad = client.post("/api/v1/auth/phone", json={"code": "nope"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "validation_error"
    assert list(bad.json["error"]["fields"]) == ["code"]
    assert "WWW-Authenticate" not in bad.headers
    assert client.post("/api/v1/auth/phone", json={"code": "phone-13900000003"}, headers=headers).status_code == 200
    used = client.post("/api/v1/auth/phone", json={"code": "phone-13900000003"}, headers=headers)
    assert used.status_code == 422
    assert used.json["error"]["fields"]["code"]
    fake.watermark_appid = "wx-other"
    foreign = client.post("/api/v1/auth/phone", json={"code": "phone-13900000004"}, headers=headers)
    assert foreign.status_code == 422
    assert list(foreign.json["error"]["fields"]) == ["code"]
    assert db.session.scalars(select(Reporter)).one().unseal("phone_data") == "13900000003"
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the session is untouched


def test_phone_needs_a_bearer_token(client, fake):
    response = client.post("/api/v1/auth/phone", json={"code": "phone-13900000003"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert fake.calls == []


def test_logout_revokes_the_bearer_token_with_204_and_no_body(client, fake):
    token = login(client).json["token"]
    other = login(client, "dev-alice2").json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/auth/logout", headers=headers)
    assert response.status_code == 204
    assert response.data == b""
    after = client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    assert db.session.scalars(select(ReporterSession).where(ReporterSession.revoked_at.is_not(None))).one()


def test_logout_without_a_token_is_401_with_www_authenticate(client):
    for headers in ({}, {"Authorization": "Bearer qzr_not-a-live-token"}, {"Authorization": "Basic eDp5"}):
        response = client.post("/api/v1/auth/logout", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_parallel_first_logins_of_one_user_make_one_reporter(app, fake):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    db.session.rollback()
    barrier = threading.Barrier(6)

    def first_login(i):
        barrier.wait()
        return app.test_client().post("/api/v1/auth/wechat", json={"code": f"dev-twin~{i}"})

    # Each code is new; all six name the same WeChat user.
    original = fake.jscode2session

    def same_user(query):
        result = original({**query, "js_code": query["js_code"].split("~")[0]})
        fake.used_codes.clear()
        return result

    fake.jscode2session = same_user  # type: ignore[method-assign]
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(first_login, range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.json["reporter"]["id"] for r in responses}) == 1
    db.session.rollback()
    assert len(db.session.scalars(select(Reporter)).all()) == 1
