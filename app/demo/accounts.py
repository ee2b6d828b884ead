"""The demo accounts of a training deployment: who they are, their known passwords and their second factor.

A trainer prints these accounts for the trainees (``/training/accounts``; ``make demo``'s last lines), so they must
stay good for a whole training day: across every reset of the data and every restart of ``make demo``. The
passwords are fixed here; each TOTP secret is derived from the deployment's secret key (``QZBG_SECRET_KEY``, in
``instance-demo/secret_key`` for ``make demo``) and the user name, so every reseed gives an account the secret it
had, and another training deployment's secrets differ. Only a training deployment has these accounts
(``seed.refuse_unless_training``).
"""

from __future__ import annotations

import base64
import dataclasses

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.auth import totp
from app.auth.models import ROLE_LABELS, TOTP_ROLES

# (username, role, display name, password). Known passwords: printed for the trainees (zxcvbn accepts each).
STAFF = (
    ("demo.admin", "admin", "系统管理员（演示）", "Peixun-Admin-2026-qz"),
    ("demo.lead", "lead", "张主任（演示）", "Peixun-Lead-2026-qz"),
    ("demo.prosecutor", "prosecutor", "王检察官（演示）", "Peixun-Prosecutor-2026-qz"),
    ("demo.prosecutor2", "prosecutor", "李检察官（演示）", "Peixun-Prosecutor2-2026-qz"),
    ("demo.police", "police", "刘警官（演示）", "Peixun-Police-2026-qz"),
    ("demo.police2", "police", "陈警官（演示）", "Peixun-Police2-2026-qz"),
    ("demo.police3", "police", "赵警官（演示）", "Peixun-Police3-2026-qz"),
    ("demo.police4", "police", "孙警官（演示）", "Peixun-Police4-2026-qz"),
    ("demo.liaison", "unit_liaison", "周联络员（演示）", "Peixun-Liaison-2026-qz"),
    ("demo.trainer", "trainer", "培训管理员（演示）", "Peixun-Trainer-2026-qz"),
)


def totp_secret(secret_key: str, username: str) -> str:
    """The account's base32 TOTP secret (160 bits, like ``totp.new_secret``): HKDF of the deployment's secret key
    and the user name, so the same on every reseed of this deployment and unknown to anyone without its key."""
    raw = HKDF(algorithm=hashes.SHA256(), length=20, salt=None,
               info=b"qzbg/training-totp/" + username.encode("ascii")).derive(secret_key.encode("utf-8"))
    return base64.b32encode(raw).decode("ascii")


@dataclasses.dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    totp_secret: str | None  # None: the role logs in without TOTP (unit liaisons)
    role: str

    def line(self) -> str:
        """CONTRACT.md: ``demo account: <username> <password> <base32 TOTP secret or -> <role>``."""
        return f"demo account: {self.username} {self.password} {self.totp_secret or '-'} {self.role}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def otpauth_uri(self) -> str | None:
        """What an authenticator app scans (the enrolment page's QR code): ``otpauth://totp/...``."""
        return totp.provisioning_uri(self.totp_secret, self.username) if self.totp_secret else None


def demo_accounts(secret_key: str) -> list[DemoAccount]:
    """Every demo account with the credentials a reseed gives it, in the order of ``STAFF``."""
    return [DemoAccount(username, password, totp_secret(secret_key, username) if role in TOTP_ROLES else None, role)
            for username, role, _name, password in STAFF]
