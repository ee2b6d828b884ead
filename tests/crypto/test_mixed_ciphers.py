"""Changing QZBG_FIELD_CIPHER keeps old data readable: each ciphertext says which cipher made it."""

from __future__ import annotations

import uuid

from app.crypto.cipher import parse_header
from app.crypto.vault import get_vault
from app.extensions import db
from app.reporters.models import Reporter
from tests.conftest import make_settings
from tests.crypto.helpers import read_cell, second_app, submit_report

SECTIONS = ("reporter", "victim", "incident", "suspect", "police")


def read_name(client, login, report_id: uuid.UUID) -> str:
    response = client.get(f"/api/v1/reports/{report_id}", headers=login.headers)
    db.session.remove()  # the `app` fixture's session: release SQLite's lock for the other app
    assert response.status_code == 200, response.json
    assert response.json["suspect"]["relation"] == "邻居"
    return response.json["victim"]["name"]


def stored_ciphers(report_id: uuid.UUID) -> dict[str, str]:
    ciphers = {name: parse_header(read_cell("reports", f"{name}_data", report_id))[0] for name in SECTIONS}
    key_id = read_cell("reports", "data_key_id", report_id)
    ciphers["data key"] = parse_header(read_cell("data_keys", "wrapped", key_id))[0]
    db.session.remove()
    return ciphers


def test_reports_written_under_aes_then_sm4_are_all_readable_from_both_apps(app, backend, client, reporter):
    _name, url, root = backend
    assert app.config["QZBG"].field_cipher == "aes-256-gcm"
    written = {submit_report(client, reporter, victim={"name": f"甲{i}"}): f"甲{i}" for i in range(2)}
    db.session.remove()

    with second_app(make_settings(root, url, field_cipher="sm4-gcm")) as sm4:
        assert sm4.config["QZBG"].keyring_path == app.config["QZBG"].keyring_path
        sm4_client = sm4.test_client()
        written |= {submit_report(sm4_client, reporter, victim={"name": f"乙{i}"}): f"乙{i}" for i in range(2)}
        db.session.remove()

        for report_id, name in written.items():
            assert read_name(client, reporter, report_id) == name
            assert read_name(sm4_client, reporter, report_id) == name

        # The aes app writes aes again after the sm4 app ran, and both read it.
        last = submit_report(client, reporter, victim={"name": "丙"})
        db.session.remove()
        assert read_name(sm4_client, reporter, last) == "丙"
        assert read_name(client, reporter, last) == "丙"


def test_each_stored_field_and_wrapped_data_key_names_the_cipher_of_the_app_that_wrote_it(
    app, backend, client, reporter
):
    _name, url, root = backend
    aes_report = submit_report(client, reporter)
    db.session.remove()
    with second_app(make_settings(root, url, field_cipher="sm4-gcm")) as sm4:
        sm4_report = submit_report(sm4.test_client(), reporter)
        db.session.remove()

    assert set(stored_ciphers(aes_report).values()) == {"aes-256-gcm"}
    assert set(stored_ciphers(sm4_report).values()) == {"sm4-gcm"}
    for report_id in (aes_report, sm4_report):
        _cipher, key_id, _nonce = parse_header(read_cell("reports", "victim_data", report_id))
        assert key_id == read_cell("reports", "data_key_id", report_id)
    db.session.remove()


def test_a_report_written_by_the_sm4_app_is_found_by_the_aes_apps_blind_index(app, backend, reporter):
    _name, url, root = backend
    with second_app(make_settings(root, url, field_cipher="sm4-gcm")) as sm4:
        report_id = submit_report(sm4.test_client(), reporter, reporter={"phone": "13912345678"})
    assert read_cell("reports", "reporter_phone_bidx", report_id) == get_vault().blind_index("phone", "13912345678")
    db.session.remove()


def test_the_sm4_app_reads_the_reporter_account_sealed_by_the_aes_app(app, backend, reporter):
    _name, url, root = backend
    db.session.remove()
    with second_app(make_settings(root, url, field_cipher="sm4-gcm")) as sm4, sm4.app_context():
        account = db.session.get(Reporter, reporter.id)
        assert parse_header(account.openid_data)[0] == "aes-256-gcm"
        assert account.unseal("openid_data") == "o-test-reporter"
        assert get_vault().field_cipher == "sm4-gcm"
        db.session.remove()
