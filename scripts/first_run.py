"""The ``setup`` process of ``make run`` (Procfile): once the web server answers ``/healthz``, print
``first administrator: <setup link>`` when the database has no administrator (``flask users first-admin``), then
stay until honcho stops the processes (honcho stops them all when any one ends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 120.0  # seconds for the server to answer: a guard against waiting forever, not an expectation


def server_url() -> str:
    host, _, port = os.environ.get("QZBG_BIND", "127.0.0.1:5000").rpartition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0", "[::]") else host  # noqa: S104 - reading the bind, not binding
    return f"http://{host}:{port}"


def wait_for_server(url: str) -> bool:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    if not wait_for_server(server_url()):
        print(f"the server did not answer {server_url()}/healthz within {DEADLINE:.0f} s", file=sys.stderr)
    else:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi", "users", "first-admin"]
        done = subprocess.run(flask, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603 - ours
        if done.stdout.strip():
            print(done.stdout.strip(), flush=True)
        elif done.returncode == 0:
            print("setup: an administrator exists; log in at /login", flush=True)
        if done.returncode != 0:
            print(done.stderr.strip(), file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
