"""Field encryption in this process: sealing and opening one report, blind indexes."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def bench_crypto(iterations: int) -> dict[str, Any]:
    """Per report: a new data key wrapped under the KEK plus the five sealed sections (as Report.seal
    does), and opening them again from a freshly loaded (not yet unwrapped) data key."""
    from app.config import BLIND_INDEXES, FIELD_CIPHERS
    from app.crypto import keyfile as keyring_file
    from app.crypto.vault import Vault
    from app.reports.models import SEALED_SECTIONS
    from tests.factories import report_body

    ring = keyring_file.generate()
    body = report_body()
    sections = [(f"{name}_data", body[name]) for name in SEALED_SECTIONS]
    plain = sum(len(json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode()) for _, v in sections)
    out: dict[str, Any] = {"iterations": iterations, "plaintext_bytes": plain, "ciphers": {}, "blind_index": {}}
    perf = time.perf_counter
    for cipher in FIELD_CIPHERS:
        vault = Vault(ring, cipher, "hmac-sha256")
        row_id = uuid.uuid4()

        def seal_report(v: Vault = vault, r: uuid.UUID = row_id) -> tuple[Any, list[bytes]]:
            key = v.new_data_key()
            return key, [v.encrypt(key, "reports", column, r, value) for column, value in sections]

        for _ in range(min(50, iterations)):
            seal_report()
        started = perf()
        for _ in range(iterations):
            key, blobs = seal_report()
        encrypt_us = (perf() - started) / iterations * 1e6

        started = perf()
        for _ in range(iterations):
            vault.new_data_key()
        wrap_us = (perf() - started) / iterations * 1e6

        started = perf()
        for _ in range(iterations):
            key.__dict__.pop("_raw", None)  # as loaded from the database: unwrap first
            for (column, _value), blob in zip(sections, blobs, strict=True):
                vault.decrypt(key, "reports", column, row_id, blob)
        decrypt_us = (perf() - started) / iterations * 1e6
        for (column, value), blob in zip(sections, blobs, strict=True):
            assert vault.decrypt(key, "reports", column, row_id, blob) == value
        out["ciphers"][cipher] = {
            "encrypt_us": encrypt_us, "wrap_us": wrap_us, "decrypt_us": decrypt_us,
            "sealed_bytes": sum(len(b) for b in blobs) + len(key.wrapped or b""),
        }
    for algorithm in BLIND_INDEXES:
        vault = Vault(ring, "aes-256-gcm", algorithm)
        started = perf()
        for _ in range(iterations):
            vault.blind_index("phone", "13800000000")
        out["blind_index"][algorithm] = (perf() - started) / iterations * 1e6
    return out


def print_crypto(result: dict[str, Any]) -> None:
    print()
    print(
        f"== field encryption, one report: new data key wrapped under the KEK + 5 sealed sections "
        f"({result['plaintext_bytes']} bytes of JSON), {result['iterations']} iterations, this process =="
    )
    header = f"{'cipher':<12} {'encrypt µs':>11} {'of which wrap':>14} {'decrypt µs':>11} {'stored bytes':>13}"
    print(header)
    print("-" * len(header))
    for cipher, r in result["ciphers"].items():
        print(
            f"{cipher:<12} {r['encrypt_us']:>11.1f} {r['wrap_us']:>14.1f} {r['decrypt_us']:>11.1f} "
            f"{r['sealed_bytes']:>13}"
        )
    print("  decrypt = unwrap the data key + open the 5 sections; stored bytes = 5 ciphertexts + wrapped key")
    blind = ", ".join(f"{k} {v:.1f} µs" for k, v in result["blind_index"].items())
    print(f"  blind index of one value (a report computes 1-2): {blind}")
