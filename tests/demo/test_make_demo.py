"""``make demo``'s launcher (scripts/demo.py) as a trainer runs it: its own instance directory, every process's
output in a log file named on screen, the terminal ending with the URL and the demo accounts, a prosecutor logging
in over HTTP with the printed TOTP secret, the banner and the inbox, the trainer's page, and SIGTERM stopping every
process it started."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyotp
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = re.compile(r"^demo account: (\S+) (\S+) ([A-Z2-7]{32}|-) (\S+)$")
STARTED = re.compile(r"^\[demo\] .+ started \(pid (\d+)\)$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    match = CSRF.search(page.text)
    assert match, (url, page.status_code)
    return match.group(1)


@pytest.mark.slow
def test_make_demo_seeds_prints_the_accounts_serves_with_the_banner_and_stops_everything_on_sigterm(tmp_path):
    port, fake_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QZBG_")}
    env.update(QZBG_BIND=f"127.0.0.1:{port}", QZBG_FAKE_WECHAT_PORT=str(fake_port), QZBG_WORKERS="1",
               QZBG_DEMO_REPORTS="60", QZBG_LOG_LEVEL="WARNING",
               # A real deployment's settings in the calling shell are never used by the demo.
               QZBG_DATABASE_URL=f"sqlite:///{tmp_path / 'real.sqlite3'}")
    instance = tmp_path / "instance-demo"
    launcher = subprocess.Popen([sys.executable, "scripts/demo.py", "--instance", str(instance)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in launcher.stdout], daemon=True)
    reader.start()
    accounts: dict[str, tuple[str, str, str]] = {}
    children: list[int] = []
    request_sessions: list[requests.Session] = []
    shown: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while len(accounts) < 10:
            line = lines.get(timeout=max(1, deadline - time.monotonic()))
            shown.append(line)
            if match := ACCOUNT.match(line):
                accounts[match[1]] = (match[2], match[3], match[4])
            elif match := STARTED.match(line):
                children.append(int(match[1]))
            assert launcher.poll() is None, line
        assert {role for *_, role in accounts.values()} == {"admin", "lead", "prosecutor", "police", "unit_liaison",
                                                            "trainer"}
        assert len(children) == 3  # the fake WeChat/WeCom, the notify worker, gunicorn
        # The terminal ends with the URL and the accounts; everything the processes say is in the log it names.
        serving = next(n for n, line in enumerate(shown) if line.startswith("[demo] serving on "))
        assert shown[serving] == f"[demo] serving on http://127.0.0.1:{port}"
        assert all(ACCOUNT.match(line) for line in shown[serving + 1:])
        assert len(shown) - serving - 1 == len(accounts) == 10
        log_file = instance / "demo.log"
        assert any(str(log_file) in line for line in shown[:serving])
        assert not any("Listening at" in line or '"level"' in line for line in shown)  # no gunicorn or app lines
        assert "Listening at" in log_file.read_text(encoding="utf-8")
        assert (instance / "secret_key").exists()
        assert (instance / "keys" / "keyring.json").exists()
        assert (instance / "qzbg.sqlite3").exists()
        assert not (tmp_path / "real.sqlite3").exists()

        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        public = requests.get(f"{base}/report", timeout=10)
        assert "培训演示环境" in public.text
        password, secret, _ = accounts["demo.prosecutor"]
        browser = requests.Session()
        request_sessions.append(browser)
        first = browser.post(f"{base}/login", data={"csrf_token": csrf(browser, f"{base}/login"),
                                                    "username": "demo.prosecutor", "password": password},
                             allow_redirects=False, timeout=10)
        assert (first.status_code, first.headers["Location"]) == (303, "/login/otp")
        second = browser.post(f"{base}/login/otp", data={"csrf_token": csrf(browser, f"{base}/login/otp"),
                                                         "otp": pyotp.TOTP(secret).now()},
                              allow_redirects=False, timeout=10)
        assert second.status_code == 303
        inbox = browser.get(f"{base}/review/", timeout=10)
        assert inbox.status_code == 200
        assert "培训演示环境" in inbox.text
        assert len(re.findall(r'data-tracking-no="QZBG-', inbox.text)) >= 10  # the open ones (全部在办)
        closed = browser.get(f"{base}/review/?status=closed", timeout=10)
        assert len(re.findall(r'data-tracking-no="QZBG-', closed.text)) >= 20
        password, secret, _ = accounts["demo.trainer"]
        trainer = requests.Session()
        request_sessions.append(trainer)
        trainer.post(f"{base}/login", data={"csrf_token": csrf(trainer, f"{base}/login"), "username": "demo.trainer",
                                            "password": password}, allow_redirects=False, timeout=10)
        landed = trainer.post(f"{base}/login/otp", data={"csrf_token": csrf(trainer, f"{base}/login/otp"),
                                                         "otp": pyotp.TOTP(secret).now()}, allow_redirects=False,
                              timeout=10)
        assert (landed.status_code, landed.headers["Location"]) == (303, "/training/")
        assert 'data-action="reset"' in trainer.get(f"{base}/training/", timeout=10).text
        fake = requests.post(f"http://127.0.0.1:{fake_port}/__fake__/state", json={}, timeout=10)
        assert fake.status_code == 200

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        for opened in request_sessions:
            opened.close()
        reader.join(timeout=10)
        launcher.stdout.close()
        for pgid in children:
            if alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
                pytest.fail(f"process group {pgid} outlived the launcher")
    for pgid in children:
        assert not alive(pgid)
