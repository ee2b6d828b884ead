#!/usr/bin/env python3
"""A reference client of qzbg's institutional API (docs/api.md): send one report from a hospital's or a hotline's
own system, signed with its key. Python's standard library only, so an IT department can read it whole.

    QZBG_URL=https://qzbg.example.gov.cn QZBG_KEY_ID=ik... QZBG_SECRET=... \\
        python3 institutional_client.py report.json HIS-2026-0001

``report.json`` holds the report body of the JSON API (docs/api.md "Submitting a report"); the second argument is
your own record id, which makes a retry safe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

PATH = "/api/v1/institutional/reports"


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
    message = "\n".join((method, path, timestamp, nonce, hashlib.sha256(body).hexdigest())).encode("utf-8")
    signature = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return {"X-QZBG-Key-Id": key_id, "X-QZBG-Timestamp": timestamp, "X-QZBG-Nonce": nonce,
            "X-QZBG-Signature": signature, "Content-Type": "application/json"}


def send(base_url: str, key_id: str, secret: str, report: dict, record_id: str) -> tuple[int, dict]:
    if not base_url.startswith(("https://", "http://")):
        raise ValueError("QZBG_URL must be an http(s) URL")
    body = json.dumps({**report, "source_record_id": record_id}, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        base_url.rstrip("/") + PATH, data=body, method="POST",
        headers=signed_headers(key_id, secret, "POST", PATH, body))
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the deployment's own URL
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as file:
        report = json.load(file)
    status, answer = send(os.environ["QZBG_URL"], os.environ["QZBG_KEY_ID"], os.environ["QZBG_SECRET"], report,
                          sys.argv[2])
    print(status, json.dumps(answer, ensure_ascii=False))
    return 0 if status in (200, 201) else 1


if __name__ == "__main__":
    sys.exit(main())
