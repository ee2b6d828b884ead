"""Blind indexes: keyed, deterministic, per purpose, from the keyring's own blind-index key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from app.crypto.keyfile import generate, load, with_new_kek
from app.crypto.vault import get_vault
from app.extensions import db
from app.reporters.models import Reporter
from app.reports.models import Report
from tests.conftest import login_reporter
from tests.crypto.helpers import fresh_report, submit_report, vault_for
from tests.factories import valid_id_number

ALGORITHMS = ["hmac-sha256", "hmac-sm3"]
PHONE = "13800000000"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_equal_inputs_give_equal_indexes_and_different_inputs_different_ones(algorithm):
    vault = vault_for(blind=algorithm)
    assert vault.blind_index("phone", PHONE) == vault.blind_index("phone", PHONE)
    assert vault.blind_index("phone", PHONE) != vault.blind_index("phone", "13800000001")
    assert len(vault.blind_index("phone", PHONE)) == 33


def test_hmac_sha256_and_hmac_sm3_give_different_indexes_for_the_same_key_and_value():
    ring = generate()
    sha, sm3 = vault_for(ring, blind="hmac-sha256"), vault_for(ring, blind="hmac-sm3")
    assert sha.blind_index("phone", PHONE) != sm3.blind_index("phone", PHONE)
    assert sha.blind_index("phone", PHONE)[0] == 1
    assert sm3.blind_index("phone", PHONE)[0] == 2
    assert sha.blind_index("phone", PHONE)[1:] != sm3.blind_index("phone", PHONE)[1:]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_same_value_under_different_purposes_gives_unrelated_indexes(algorithm):
    vault = vault_for(blind=algorithm)
    indexes = {vault.blind_index(purpose, PHONE) for purpose in ("phone", "openid", "victim.id_number")}
    assert len(indexes) == 3


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_different_keyring_gives_a_different_index(algorithm):
    assert vault_for(blind=algorithm).blind_index("phone", PHONE) != vault_for(blind=algorithm).blind_index(
        "phone", PHONE
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_index_depends_on_the_blind_index_key_only_not_on_the_keks_or_the_field_cipher(algorithm):
    ring = generate()
    rotated = with_new_kek(ring)
    other_keks = dataclasses.replace(generate(), blind_index_key=ring.blind_index_key)
    expected = vault_for(ring, blind=algorithm).blind_index("openid", "o-abc")
    assert vault_for(rotated, blind=algorithm).blind_index("openid", "o-abc") == expected
    assert vault_for(other_keks, blind=algorithm).blind_index("openid", "o-abc") == expected
    assert vault_for(ring, cipher="sm4-gcm", blind=algorithm).blind_index("openid", "o-abc") == expected
    other_bidx_key = dataclasses.replace(ring, blind_index_key=generate().blind_index_key)
    assert vault_for(other_bidx_key, blind=algorithm).blind_index("openid", "o-abc") != expected


def _reference(algorithm: str, key: bytes, purpose: str, value: str) -> bytes:
    """The documented scheme, computed independently: HMAC under an HKDF-derived per-purpose key."""
    info = b"qzbg/blind|" + purpose.encode()
    if algorithm == "hmac-sha256":
        purpose_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)
        return b"\x01" + hmac.new(purpose_key, value.encode(), hashlib.sha256).digest()
    purpose_key = HKDF(algorithm=hashes.SM3(), length=32, salt=None, info=info).derive(key)
    mac = chmac.HMAC(purpose_key, hashes.SM3())
    mac.update(value.encode())
    return b"\x02" + mac.finalize()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_index_format_is_stable_so_stored_indexes_stay_searchable(algorithm):
    ring = dataclasses.replace(generate(), blind_index_key=bytes(range(32)))
    for purpose, value in [("phone", PHONE), ("openid", "o-dev-张三"), ("victim.id_number", "11010520150101123X")]:
        assert vault_for(ring, blind=algorithm).blind_index(purpose, value) == _reference(
            algorithm, ring.blind_index_key, purpose, value
        )


def test_the_app_indexes_with_the_blind_index_key_of_its_keyring_file(app):
    settings = app.config["QZBG"]
    from_file = vault_for(load(settings.keyring_path), blind=settings.blind_index)
    assert get_vault().blind_index("phone", PHONE) == from_file.blind_index("phone", PHONE)
    assert get_vault().blind_index("phone", PHONE) != vault_for(blind=settings.blind_index).blind_index(
        "phone", PHONE
    )


def test_stored_reports_are_found_by_phone_and_victim_id_number_without_decrypting(client, reporter):
    id_number = valid_id_number(dt.date(2015, 3, 1))
    wanted = submit_report(client, reporter, victim={"id_number": id_number, "age": None})
    submit_report(client, reporter, reporter={"phone": "13900000000"})

    vault = get_vault()
    db.session.remove()
    by_phone = db.session.scalars(
        select(Report.id).where(Report.reporter_phone_bidx == vault.blind_index("phone", PHONE))
    ).all()
    by_id = db.session.scalars(
        select(Report.id).where(Report.victim_id_bidx == vault.blind_index("victim.id_number", id_number))
    ).all()
    assert by_phone == [wanted]
    assert by_id == [wanted]
    stored = fresh_report(wanted)
    assert PHONE.encode() not in stored.reporter_phone_bidx
    assert PHONE.encode() not in stored.reporter_data
    assert id_number.encode() not in stored.victim_data


def test_a_reporter_is_found_again_by_openid_through_its_blind_index(app, reporter):
    db.session.remove()
    stored = db.session.get(Reporter, reporter.id)
    assert stored.openid_bidx == get_vault().blind_index("openid", "o-test-reporter")
    assert b"o-test-reporter" not in stored.openid_data
    assert login_reporter("o-test-reporter").id == reporter.id
    assert db.session.scalar(select(db.func.count()).select_from(Reporter)) == 1
