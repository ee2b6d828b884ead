"""AEAD primitives: AES-256-GCM and SM4-GCM, one-shot and streaming.

Every ciphertext starts with a header that names its format version, its cipher
and the id of the key that made it, so data written under either cipher stays
readable after ``QZBG_FIELD_CIPHER`` changes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
CIPHER_IDS = {"aes-256-gcm": 1, "sm4-gcm": 2}
CIPHER_NAMES = {v: k for k, v in CIPHER_IDS.items()}
NONCE_BYTES = 12
TAG_BYTES = 16
# version (1) + cipher (1) + key id (16) + nonce (12)
HEADER_BYTES = 2 + 16 + NONCE_BYTES


class DecryptionError(Exception):
    """A ciphertext failed to authenticate: tampered, moved, or under another key."""


def _algorithm(cipher: str, key: bytes) -> algorithms.AES | algorithms.SM4:
    if cipher == "aes-256-gcm":
        return algorithms.AES(key)
    if cipher == "sm4-gcm":
        # SM4 takes 128-bit keys: derive one from the 256-bit key with HKDF-SM3,
        # so one data key serves both ciphers without reusing raw key bytes.
        sm4_key = HKDF(algorithm=hashes.SM3(), length=16, salt=None, info=b"qzbg/sm4-gcm").derive(key)
        return algorithms.SM4(sm4_key)
    raise ValueError(f"unknown cipher {cipher!r}")


def header(cipher: str, key_id: uuid.UUID, nonce: bytes) -> bytes:
    return bytes([VERSION, CIPHER_IDS[cipher]]) + key_id.bytes + nonce


def parse_header(blob: bytes) -> tuple[str, uuid.UUID, bytes]:
    """(cipher, key id, nonce) of a ciphertext; DecryptionError when it is not one of ours."""
    if len(blob) < HEADER_BYTES or blob[0] != VERSION or blob[1] not in CIPHER_NAMES:
        raise DecryptionError("not a qzbg ciphertext (unknown version or cipher)")
    return CIPHER_NAMES[blob[1]], uuid.UUID(bytes=blob[2:18]), blob[18:HEADER_BYTES]


def seal(cipher: str, key: bytes, key_id: uuid.UUID, plaintext: bytes, aad: bytes) -> bytes:
    """header || ciphertext || tag. The header is authenticated together with ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    head = header(cipher, key_id, nonce)
    enc = Cipher(_algorithm(cipher, key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(head + aad)
    body = enc.update(plaintext) + enc.finalize()
    return head + body + enc.tag


def open_(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Inverse of ``seal``; raises DecryptionError on any mismatch."""
    cipher, _key_id, nonce = parse_header(blob)
    if len(blob) < HEADER_BYTES + TAG_BYTES:
        raise DecryptionError("ciphertext too short")
    head, body, tag = blob[:HEADER_BYTES], blob[HEADER_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    dec = Cipher(_algorithm(cipher, key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(head + aad)
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


def seal_stream(
    cipher: str, key: bytes, key_id: uuid.UUID, chunks: Iterator[bytes], out: BinaryIO, aad: bytes
) -> int:
    """Encrypt chunk by chunk into ``out`` (header, body, tag); returns plaintext bytes written."""
    nonce = os.urandom(NONCE_BYTES)
    head = header(cipher, key_id, nonce)
    enc = Cipher(_algorithm(cipher, key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(head + aad)
    out.write(head)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        out.write(enc.update(chunk))
    out.write(enc.finalize())
    out.write(enc.tag)
    return total


def open_stream(key: bytes, src: BinaryIO, size: int, aad: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Decrypt a sealed stream of ``size`` bytes chunk by chunk.

    GCM only proves integrity at the end: callers that must not act on
    unauthenticated bytes should consume the whole iterator before using them.
    """
    head = src.read(HEADER_BYTES)
    cipher, _key_id, nonce = parse_header(head)
    src.seek(size - TAG_BYTES)
    tag = src.read(TAG_BYTES)
    src.seek(HEADER_BYTES)
    dec = Cipher(_algorithm(cipher, key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(head + aad)
    remaining = size - HEADER_BYTES - TAG_BYTES
    while remaining > 0:
        data = src.read(min(chunk, remaining))
        if not data:
            raise DecryptionError("ciphertext truncated")
        remaining -= len(data)
        yield dec.update(data)
    try:
        yield dec.finalize()
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None
