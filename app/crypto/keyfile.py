"""The keyring file (this module is the file format): versioned key-encryption keys (KEKs) and the blind-index key
(also the root of the audit chain's key, ``Vault.audit_mac``: neither is ever rotated).

The file is JSON, written atomically with mode 0600::

    {"format": "qzbg-keyring/1", "current": "k-20261126-3f9a",
     "keks": [{"id": "k-20261126-3f9a", "key": "<base64, 32 bytes>",
               "created_at": "...", "retired_at": null}],
     "blind_index_key": "<base64, 32 bytes>"}

A retired KEK keeps its id and dates but loses its key material, so nothing
wrapped under it can be read again; ``keys retire`` refuses while any data key
still needs it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import os
import secrets
import tempfile
from pathlib import Path

from app.config import ConfigError

FORMAT = "qzbg-keyring/1"
KEY_BYTES = 32


@dataclasses.dataclass(frozen=True)
class Kek:
    id: str
    key: bytes | None  # None once retired
    created_at: str
    retired_at: str | None = None


@dataclasses.dataclass(frozen=True)
class Keyring:
    current: str
    keks: tuple[Kek, ...]
    blind_index_key: bytes

    def kek(self, kek_id: str) -> Kek | None:
        return next((k for k in self.keks if k.id == kek_id), None)

    @property
    def current_kek(self) -> Kek:
        kek = self.kek(self.current)
        assert kek is not None
        assert kek.key is not None
        return kek

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "current": self.current,
                "keks": [
                    {
                        "id": k.id,
                        "key": base64.b64encode(k.key).decode() if k.key else None,
                        "created_at": k.created_at,
                        "retired_at": k.retired_at,
                    }
                    for k in self.keks
                ],
                "blind_index_key": base64.b64encode(self.blind_index_key).decode(),
            },
            indent=2,
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _new_kek_id() -> str:
    return f"k-{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"


def generate() -> Keyring:
    """A fresh keyring with one KEK and a blind-index key."""
    kek = Kek(id=_new_kek_id(), key=secrets.token_bytes(KEY_BYTES), created_at=_now())
    return Keyring(current=kek.id, keks=(kek,), blind_index_key=secrets.token_bytes(KEY_BYTES))


def with_new_kek(keyring: Keyring) -> Keyring:
    """The same keyring with a new current KEK; old KEKs stay for unwrapping."""
    kek = Kek(id=_new_kek_id(), key=secrets.token_bytes(KEY_BYTES), created_at=_now())
    while keyring.kek(kek.id):
        kek = dataclasses.replace(kek, id=_new_kek_id())
    return dataclasses.replace(keyring, current=kek.id, keks=(*keyring.keks, kek))


def with_retired(keyring: Keyring, kek_id: str) -> Keyring:
    """The keyring with ``kek_id``'s key material destroyed."""
    if kek_id == keyring.current:
        raise ValueError("the current key cannot be retired")
    keks = tuple(
        dataclasses.replace(k, key=None, retired_at=_now()) if k.id == kek_id else k
        for k in keyring.keks
    )
    return dataclasses.replace(keyring, keks=keks)


def _decode_key(value: object, what: str, path: Path) -> bytes:
    try:
        key = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"密钥环 {path} 无法使用：{what} 不是有效的 base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"密钥环 {path} 无法使用：{what} 应为 {KEY_BYTES} 字节")
    return key


def load(path: Path) -> Keyring:
    """Read and check a keyring file; every problem is one ConfigError line."""
    if not path.is_file():
        raise ConfigError(
            f"找不到字段加密密钥环 {path}：请先运行 flask --app wsgi keys init（或设置 QZBG_KEYRING）"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"密钥环 {path} 无法读取：{exc.__class__.__name__}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"密钥环 {path} 无法使用：格式不是 {FORMAT}")
    keks = []
    for item in raw.get("keks") or []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ConfigError(f"密钥环 {path} 无法使用：密钥条目格式错误")
        key = None if item.get("key") is None else _decode_key(item["key"], item["id"], path)
        keks.append(
            Kek(id=item["id"], key=key, created_at=str(item.get("created_at") or ""),
                retired_at=item.get("retired_at"))
        )
    keyring = Keyring(
        current=str(raw.get("current")),
        keks=tuple(keks),
        blind_index_key=_decode_key(raw.get("blind_index_key"), "blind_index_key", path),
    )
    current = keyring.kek(keyring.current)
    if current is None or current.key is None:
        raise ConfigError(f"密钥环 {path} 无法使用：当前密钥 {keyring.current} 不存在或已销毁")
    return keyring


def save(keyring: Keyring, path: Path) -> None:
    """Write the keyring atomically (temp file, fsync, rename), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(keyring.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
