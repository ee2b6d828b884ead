"""The vault: envelope encryption of fields and files, and blind indexes.

One ``Vault`` per app (``app.extensions["qzbg.vault"]``), built from the keyring
and the cipher settings. Ciphertexts are bound to ``table|column|row`` through
the AEAD associated data, so a ciphertext copied anywhere else fails to open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from app.config import ConfigError
from app.crypto import cipher as aead
from app.crypto import keyfile as keyring_file
from app.crypto.cipher import DecryptionError
from app.crypto.keyfile import KEY_BYTES, Keyring
from app.crypto.models import DataKey, utcnow
from app.errors import NotFoundError

BLIND_IDS = {"hmac-sha256": 1, "hmac-sm3": 2}
# The audit chain's MACs (app/audit/service.py): each keyed with its own key, derived from the keyring.
AUDIT_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"hmac-sha256": hashes.SHA256, "hmac-sm3": hashes.SM3}
AUDIT_CHAIN_INFO = b"qzbg/audit-chain"
KEYRING_VERIFIED = "qzbg.keyring_verified"
log = logging.getLogger("qzbg.crypto")


class KeyUnavailableError(DecryptionError):
    """The data key was destroyed, or its KEK is missing or retired."""


class DataDestroyedError(KeyUnavailableError, NotFoundError):
    """The data key was crypto-shredded: what it protected is gone for good.

    A domain error at the crypto boundary, so reading a shredded report anywhere (the
    JSON API, the web status page, an upload onto it) answers ``404 not_found`` with a
    zh-CN message instead of an unhandled exception. ``str()`` keeps the operator's
    detail (the data key id, nothing personal); users see ``message``.
    """

    message = "该报告的数据已按规定销毁"

    def __init__(self, data_key_id: uuid.UUID) -> None:
        NotFoundError.__init__(self, self.message)
        self.args = (f"data key {data_key_id} was destroyed",)


class FieldDecryptionError(DecryptionError):
    """A field ciphertext did not open where it was found."""

    def __init__(self, table: str, column: str, row_id: object) -> None:
        super().__init__(
            f"ciphertext in {table}.{column} for row {row_id} failed authentication: "
            "tampered, moved from another row or column, or made under another key"
        )


def field_aad(table: str, column: str, row_id: object) -> bytes:
    return f"qzbg/field|{table}|{column}|{row_id}".encode()


class Vault:
    """Key operations. Raw keys never leave this object except to the AEAD calls."""

    def __init__(self, keyring: Keyring, field_cipher: str, blind_index: str, path: Path | None = None) -> None:
        self.keyring = keyring
        self.field_cipher = field_cipher
        self.blind_index_algorithm = blind_index
        self.path = path
        self._signature = self._file_signature()
        self._audit_keys: dict[tuple[bytes, str], bytes] = {}

    def _file_signature(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def reload_if_changed(self) -> bool:
        """Pick up a keyring that ``keys rotate|retire`` rewrote while this process runs.

        Without it a worker keeps wrapping under the old KEK and cannot unwrap keys
        re-wrapped under the new one. An unreadable file keeps the keyring in memory.
        """
        signature = self._file_signature()
        if signature is None or signature == self._signature or self.path is None:
            return False
        try:
            self.keyring = keyring_file.load(self.path)
        except ConfigError:
            log.error("keyring_reload_failed", extra={"path": str(self.path)})
            return False
        self._signature = signature
        log.info("keyring_reloaded", extra={"current": self.keyring.current})
        return True

    # -- data keys ---------------------------------------------------------
    def _wrap_aad(self, data_key_id: uuid.UUID, kek_id: str) -> bytes:
        return f"qzbg/data-key|{data_key_id}|{kek_id}".encode()

    def wrap(self, data_key_id: uuid.UUID, raw: bytes) -> tuple[str, bytes]:
        kek = self.keyring.current_kek
        assert kek.key is not None
        blob = aead.seal(self.field_cipher, kek.key, data_key_id, raw, self._wrap_aad(data_key_id, kek.id))
        return kek.id, blob

    def new_data_key(self) -> DataKey:
        """A new random data key, wrapped under the current KEK (not yet added to a session)."""
        raw = os.urandom(KEY_BYTES)
        key = DataKey(id=uuid.uuid4(), created_at=utcnow())
        key.kek_id, key.wrapped = self.wrap(key.id, raw)
        key._raw = raw  # type: ignore[attr-defined]
        return key

    def unwrap(self, key: DataKey) -> bytes:
        if key.wrapped is None or key.destroyed_at is not None:
            key.__dict__.pop("_raw", None)
            raise DataDestroyedError(key.id)
        cached: bytes | None = key.__dict__.get("_raw")
        if cached is not None:
            return cached
        raw = self._unwrap_stored(key.id, key.kek_id, key.wrapped)
        key._raw = raw  # type: ignore[attr-defined]
        return raw

    def _unwrap_stored(self, data_key_id: uuid.UUID, kek_id: str, wrapped: bytes) -> bytes:
        kek = self.keyring.kek(kek_id)
        if kek is None or kek.key is None:
            raise KeyUnavailableError(f"data key {data_key_id} needs KEK {kek_id}, which the keyring lacks")
        try:
            return aead.open_(kek.key, wrapped, self._wrap_aad(data_key_id, kek_id))
        except DecryptionError:
            raise KeyUnavailableError(
                f"data key {data_key_id} does not unwrap under KEK {kek_id}: wrong keyring?"
            ) from None

    def rewrapped(self, data_key_id: uuid.UUID, kek_id: str, wrapped: bytes) -> tuple[str, bytes]:
        """A stored wrapped data key re-wrapped under the current KEK: (current KEK id, new wrapped form).

        What ``rewrap`` does, on the stored columns alone (no ORM object), for ``keys rotate``.
        """
        return self.wrap(data_key_id, self._unwrap_stored(data_key_id, kek_id, wrapped))

    def rewrap(self, key: DataKey) -> bool:
        """Re-wrap under the current KEK; False when it already is (or was destroyed)."""
        if key.kek_id == self.keyring.current or key.wrapped is None:
            return False
        raw = self.unwrap(key)
        key.kek_id, key.wrapped = self.wrap(key.id, raw)
        key.rewrapped_at = utcnow()
        return True

    # -- fields ------------------------------------------------------------
    def encrypt(self, key: DataKey, table: str, column: str, row_id: object, value: Any) -> bytes:
        """Seal a JSON-serialisable value for one cell."""
        plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return aead.seal(self.field_cipher, self.unwrap(key), key.id, plaintext, field_aad(table, column, row_id))

    def decrypt(self, key: DataKey, table: str, column: str, row_id: object, blob: bytes) -> Any:
        try:
            _cipher, key_id, _nonce = aead.parse_header(blob)
            if key_id != key.id:
                raise DecryptionError("made under another data key")
            plaintext = aead.open_(self.unwrap(key), blob, field_aad(table, column, row_id))
        except KeyUnavailableError:
            raise
        except DecryptionError:
            raise FieldDecryptionError(table, column, row_id) from None
        return json.loads(plaintext)

    # -- files -------------------------------------------------------------
    def encrypt_stream(
        self, key: DataKey, table: str, row_id: object, chunks: Iterator[bytes], out: BinaryIO
    ) -> int:
        return aead.seal_stream(
            self.field_cipher, self.unwrap(key), key.id, chunks, out, field_aad(table, "blob", row_id)
        )

    def decrypt_stream(self, key: DataKey, table: str, row_id: object, src: BinaryIO, size: int) -> Iterator[bytes]:
        return aead.open_stream(self.unwrap(key), src, size, field_aad(table, "blob", row_id))

    # -- blind indexes -----------------------------------------------------
    def blind_index(self, purpose: str, value: str) -> bytes:
        """Keyed hash for exact-match search: algorithm id byte || HMAC(purpose key, value)."""
        algorithm = self.blind_index_algorithm
        if algorithm == "hmac-sm3":
            purpose_key = HKDF(
                algorithm=hashes.SM3(), length=32, salt=None, info=b"qzbg/blind|" + purpose.encode()
            ).derive(self.keyring.blind_index_key)
            mac = chmac.HMAC(purpose_key, hashes.SM3())
            mac.update(value.encode("utf-8"))
            digest = mac.finalize()
        else:
            purpose_key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/blind|" + purpose.encode()
            ).derive(self.keyring.blind_index_key)
            digest = hmac.new(purpose_key, value.encode("utf-8"), hashlib.sha256).digest()
        return bytes([BLIND_IDS[algorithm]]) + digest

    # -- the audit chain ---------------------------------------------------
    def audit_mac(self, algorithm: str, message: bytes) -> bytes:
        """The audit chain's keyed hash of one entry: HMAC (``hmac-sha256`` or ``hmac-sm3``) under a key derived
        by HKDF, with the same hash, from the keyring's blind-index key under its own label. The key lives only
        here (never in the database), so nobody who can write the tables but lacks the keyring can make an entry
        that verifies. The blind-index key is never rotated (stored indexes depend on it), so neither is this.
        An unknown algorithm is a ``KeyError``."""
        hash_type = AUDIT_HASHES[algorithm]
        root = self.keyring.blind_index_key
        key = self._audit_keys.get((root, algorithm))
        if key is None:
            key = HKDF(algorithm=hash_type(), length=32, salt=None, info=AUDIT_CHAIN_INFO).derive(root)
            self._audit_keys = {(root, algorithm): key, **{k: v for k, v in self._audit_keys.items() if k[0] == root}}
        mac = chmac.HMAC(key, hash_type())
        mac.update(message)
        return mac.finalize()


def get_vault() -> Vault:
    """The vault of the current app, with the keyring file re-read if it changed."""
    vault: Vault = current_app.extensions["qzbg.vault"]
    if vault.reload_if_changed():
        # A new keyring must prove itself against the stored data keys before it serves.
        current_app.extensions.pop(KEYRING_VERIFIED, None)
    return vault
