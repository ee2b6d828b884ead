"""Staff passwords: argon2id hashes, and a strength rule (12+ characters, not common, zxcvbn score 3+)."""

from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
# RFC 9106's second recommended option (64 MiB would be heavy on a 2-core office server under a login burst).
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
# What an unknown account's password is checked against, at the same cost: hashed when first needed, not at import
# (0.2 s of CPU that every process, a CLI command's included, would otherwise pay at start).
_DUMMY: str | None = None
# The stored "hash" of an account that waits for its setup link: no password matches it (app/auth/setup_links.py).
UNUSABLE = "!setup-pending"


@functools.cache
def _common() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def problems(password: str, *, username: str = "", display_name: str = "") -> list[str]:
    """What is wrong with a new password, in zh-CN; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [f"密码至少需要{MIN_LENGTH}个字符"]
    if len(password) > MAX_LENGTH:
        return [f"密码不能超过{MAX_LENGTH}个字符"]
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        return ["密码不能包含控制字符"]
    lowered = password.lower()
    if lowered in _common() or (username and username.lower() in lowered):
        return ["该密码过于常见或包含用户名，请换一个"]
    from zxcvbn import zxcvbn

    # zxcvbn's cost grows with length; the first 100 characters decide.
    score = zxcvbn(password[:100], user_inputs=[u for u in (username, display_name) if u])["score"]
    if score < 3:
        return ["密码强度不足，请使用更长、更不易猜到的密码（可用几个无关的词组合）"]
    return []


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (``stored`` None checks a dummy hash) or has a password yet
    (``UNUSABLE``: the dummy too, and never a match)."""
    global _DUMMY
    usable = stored is not None and stored != UNUSABLE
    if not usable and _DUMMY is None:
        _DUMMY = _hasher.hash("qzbg-dummy-password-for-timing")
    try:
        _hasher.verify(stored if usable and stored is not None else _DUMMY, password)  # type: ignore[arg-type]
    except (VerificationError, InvalidHashError):
        return False
    return usable


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
