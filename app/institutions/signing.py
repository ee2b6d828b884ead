"""The institutional API's request signature (CONTRACT.md "Institutional API").

The string signed is ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body))``; the signature is the lowercase
hex HMAC of it under the key's secret, with SHA-256, or SM3 when the deployment's blind indexes use HMAC-SM3.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac

WINDOW_SECONDS = 300  # a timestamp further off than this from our clock is refused
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest())).encode("utf-8")


def sign(secret: bytes, message: bytes, *, algorithm: str = "hmac-sha256") -> str:
    if algorithm == "hmac-sm3":
        mac = chmac.HMAC(secret, hashes.SM3())
        mac.update(message)
        return mac.finalize().hex()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def matches(secret: bytes, message: bytes, signature: str, *, algorithm: str = "hmac-sha256") -> bool:
    return bool(SIGNATURE.match(signature)) and hmac.compare_digest(sign(secret, message, algorithm=algorithm),
                                                                   signature)
