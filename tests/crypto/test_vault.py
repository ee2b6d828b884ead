"""The vault on its own: envelope keys, associated data, and the self-describing ciphertext header."""

from __future__ import annotations

import dataclasses
import io
import os
import uuid

import pytest

from app.crypto import cipher as aead
from app.crypto.cipher import HEADER_BYTES, NONCE_BYTES, DecryptionError, parse_header
from app.crypto.keyfile import generate, with_new_kek
from app.crypto.models import DataKey
from app.crypto.vault import FieldDecryptionError, KeyUnavailableError, get_vault
from tests.crypto.helpers import flip_byte, fresh_report, read_cell, submit_report, vault_for, write_cell

CIPHERS = ["aes-256-gcm", "sm4-gcm"]
ROW = uuid.uuid4()
VALUE = {"name": "小花", "age": 12, "notes": ["第一条", None, True]}


def stored_copy(key: DataKey) -> DataKey:
    """The data key as a later session loads it: no cached raw key, only the wrapped form."""
    return DataKey(id=key.id, kek_id=key.kek_id, wrapped=key.wrapped)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_field_round_trips_through_the_vault_with_each_cipher(cipher):
    vault = vault_for(cipher=cipher)
    key = vault.new_data_key()
    blob = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    assert vault.decrypt(key, "reports", "victim_data", ROW, blob) == VALUE
    assert vault.decrypt(stored_copy(key), "reports", "victim_data", ROW, blob) == VALUE


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize(
    ("table", "column", "row"),
    [
        pytest.param("reporters", "victim_data", ROW, id="other-table"),
        pytest.param("reports", "suspect_data", ROW, id="other-column"),
        pytest.param("reports", "victim_data", uuid.uuid4(), id="other-row"),
        pytest.param("reports", "victim_data", str(ROW).upper(), id="row-id-spelled-differently"),
    ],
)
def test_a_field_decrypted_as_if_it_were_another_cell_fails_naming_that_cell(cipher, table, column, row):
    vault = vault_for(cipher=cipher)
    key = vault.new_data_key()
    blob = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    with pytest.raises(FieldDecryptionError, match=rf"{table}\.{column} for row {row}"):
        vault.decrypt(key, table, column, row, blob)


def test_a_field_decrypted_with_another_reports_data_key_fails():
    vault = vault_for()
    mine, theirs = vault.new_data_key(), vault.new_data_key()
    blob = vault.encrypt(mine, "reports", "victim_data", ROW, VALUE)
    with pytest.raises(FieldDecryptionError):
        vault.decrypt(theirs, "reports", "victim_data", ROW, blob)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_forged_header_naming_the_right_data_key_does_not_help_a_ciphertext_made_under_another(cipher):
    vault = vault_for(cipher=cipher)
    real, other = vault.new_data_key(), vault.new_data_key()
    aad = b"qzbg/field|reports|victim_data|" + str(ROW).encode()
    forged = aead.seal(cipher, vault.unwrap(other), real.id, b'{"name":"x"}', aad)
    assert parse_header(forged)[1] == real.id
    with pytest.raises(FieldDecryptionError):
        vault.decrypt(real, "reports", "victim_data", ROW, forged)


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_ciphertext_header_names_its_cipher_and_data_key(cipher):
    vault = vault_for(cipher=cipher)
    key = vault.new_data_key()
    blob = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    name, key_id, nonce = parse_header(blob)
    assert (name, key_id, len(nonce)) == (cipher, key.id, NONCE_BYTES)
    assert blob[0] == aead.VERSION
    assert blob[1] == aead.CIPHER_IDS[cipher]


def test_encrypting_the_same_value_twice_gives_different_ciphertexts_with_different_nonces():
    vault = vault_for()
    key = vault.new_data_key()
    first = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    second = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    assert first != second
    assert parse_header(first)[2] != parse_header(second)[2]


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x01\x01" + b"\x00" * 10, b"\x02\x01" + b"\x00" * 60, b"\x01\x09" + b"\x00" * 60],
    ids=["empty", "short", "unknown-version", "unknown-cipher"],
)
def test_parse_header_refuses_what_is_not_one_of_our_ciphertexts(blob):
    with pytest.raises(DecryptionError):
        parse_header(blob)


def test_a_header_only_blob_without_tag_fails_as_a_field_decryption_error():
    vault = vault_for()
    key = vault.new_data_key()
    blob = vault.encrypt(key, "reports", "victim_data", ROW, VALUE)
    with pytest.raises(FieldDecryptionError):
        vault.decrypt(key, "reports", "victim_data", ROW, blob[: HEADER_BYTES + 3])


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_wrapped_data_key_names_the_cipher_it_was_wrapped_with(cipher):
    vault = vault_for(cipher=cipher)
    key = vault.new_data_key()
    assert key.kek_id == vault.keyring.current
    name, key_id, _nonce = parse_header(key.wrapped)
    assert (name, key_id) == (cipher, key.id)


def test_a_data_key_does_not_unwrap_under_a_keyring_that_lacks_its_kek():
    key = vault_for().new_data_key()
    with pytest.raises(KeyUnavailableError, match="lacks"):
        vault_for().unwrap(stored_copy(key))


def test_a_data_key_does_not_unwrap_under_different_key_material_with_the_same_kek_id():
    vault = vault_for()
    key = vault.new_data_key()
    ring = vault.keyring
    impostor_kek = dataclasses.replace(ring.current_kek, key=generate().current_kek.key)
    impostor = vault_for(dataclasses.replace(ring, keks=(impostor_kek,)))
    with pytest.raises(KeyUnavailableError, match="wrong keyring"):
        impostor.unwrap(stored_copy(key))


def test_a_wrapped_data_key_moved_to_another_data_key_row_does_not_unwrap():
    vault = vault_for()
    a, b = vault.new_data_key(), vault.new_data_key()
    moved = DataKey(id=b.id, kek_id=a.kek_id, wrapped=a.wrapped)
    with pytest.raises(KeyUnavailableError):
        vault.unwrap(moved)


def test_a_wrapped_data_key_relabelled_with_another_kek_id_does_not_unwrap():
    vault = vault_for()
    vault.keyring = with_new_kek(vault.keyring)
    old_kek = next(k.id for k in vault.keyring.keks if k.id != vault.keyring.current)
    key = vault.new_data_key()
    relabelled = DataKey(id=key.id, kek_id=old_kek, wrapped=key.wrapped)
    with pytest.raises(KeyUnavailableError):
        vault.unwrap(relabelled)


def test_a_flipped_byte_in_a_stored_wrapped_data_key_makes_the_report_unreadable(client, reporter):
    report_id = submit_report(client, reporter)
    key_id = read_cell("reports", "data_key_id", report_id)
    write_cell("data_keys", "wrapped", key_id, flip_byte(read_cell("data_keys", "wrapped", key_id), -3))
    with pytest.raises(KeyUnavailableError, match=str(key_id)):
        fresh_report(report_id).section("victim")


def test_stored_report_fields_name_the_configured_cipher_and_the_reports_own_data_key(client, reporter):
    report_id = submit_report(client, reporter)
    report = fresh_report(report_id)
    assert get_vault().field_cipher == "aes-256-gcm"
    for column in ("reporter_data", "victim_data", "incident_data", "suspect_data", "police_data"):
        name, key_id, _nonce = parse_header(getattr(report, column))
        assert (name, key_id) == ("aes-256-gcm", report.data_key_id)


def _sealed_file(vault, key, row, data: bytes) -> bytes:
    out = io.BytesIO()
    chunks = (data[i : i + 70_000] for i in range(0, len(data), 70_000))
    assert vault.encrypt_stream(key, "attachments", row, chunks, out) == len(data)
    return out.getvalue()


def _open_file(vault, key, row, blob: bytes) -> bytes:
    return b"".join(vault.decrypt_stream(key, "attachments", row, io.BytesIO(blob), len(blob)))


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_file_round_trips_through_the_streaming_cipher_and_names_its_cipher_and_key(cipher):
    vault = vault_for(cipher=cipher)
    key = vault.new_data_key()
    data = os.urandom(200_000)
    blob = _sealed_file(vault, key, ROW, data)
    assert parse_header(blob)[:2] == (cipher, key.id)
    assert data not in blob
    assert _open_file(vault, stored_copy(key), ROW, blob) == data


@pytest.mark.parametrize("index", [HEADER_BYTES + 100_000, -1, 1, 5])
def test_a_file_with_one_flipped_byte_fails_before_the_stream_ends(index):
    vault = vault_for()
    key = vault.new_data_key()
    blob = bytearray(_sealed_file(vault, key, ROW, os.urandom(150_000)))
    blob[index] ^= 0x01
    with pytest.raises(DecryptionError):
        _open_file(vault, key, ROW, bytes(blob))


def test_a_file_moved_to_another_attachment_row_or_opened_as_a_field_fails():
    vault = vault_for()
    key = vault.new_data_key()
    blob = _sealed_file(vault, key, ROW, b"%PDF-1.7 small file")
    with pytest.raises(DecryptionError):
        _open_file(vault, key, uuid.uuid4(), blob)
    with pytest.raises(FieldDecryptionError):
        vault.decrypt(key, "attachments", "filename_data", ROW, blob)


def test_a_truncated_file_fails_to_decrypt():
    vault = vault_for()
    key = vault.new_data_key()
    blob = _sealed_file(vault, key, ROW, os.urandom(100_000))
    with pytest.raises(DecryptionError):
        _open_file(vault, key, ROW, blob[:-100])
