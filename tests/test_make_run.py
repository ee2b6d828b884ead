"""``make run`` as a newcomer runs it (CONTRACT.md "First run"): the migrations, then the web server and the notify
worker together; on a database with no administrator one line ``first administrator: <setup link>`` once the server
answers, the link working; run again with an administrator present, no such line; Ctrl-C stops both."""

from __future__ import annotations

import os
import queue
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.demo.test_make_demo import alive, free_port

ROOT = Path(__file__).resolve().parents[1]
FIRST = re.compile(r"^first administrator: (http://127\.0\.0\.1:\d+/setup/\S+)$")
DEADLINE = 180.0  # a guard against a hang, far beyond what starting takes


class Run:
    """``make run`` in a session of its own, its output read line by line."""

    def __init__(self, instance: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QZBG_")}
        env.update(QZBG_INSTANCE_PATH=str(instance), QZBG_BIND=f"127.0.0.1:{port}", QZBG_WORKERS="1",
                   QZBG_PUBLIC_URL=f"http://127.0.0.1:{port}", QZBG_LOG_LEVEL="WARNING")
        self.process = subprocess.Popen(["make", "--no-print-directory", "run", f"INSTANCE={instance}"], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            found = pattern.search(line)
            if found:
                return found
        raise AssertionError(f"no {what}; make run said:\n" + "\n".join(self.seen[-60:]))

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to make's foreground process group, as a terminal sends it; then every process it started
        must be gone."""
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while alive(self.process.pid) and time.monotonic() < deadline:
            self.process.poll()  # reap make once it exits: a zombie still counts as a member of the group
            time.sleep(0.1)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert not alive(self.process.pid), "processes of make run were left running:\n" + "\n".join(self.seen[-30:])

    def kill(self) -> None:
        if alive(self.process.pid):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.reader.join(30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def heartbeats(instance: Path) -> int:
    with sqlite3.connect(instance / "qzbg.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM notify_workers").fetchone()[0])


@pytest.mark.slow
def test_make_run_prints_the_first_administrators_link_runs_the_worker_and_stops_on_ctrl_c(tmp_path, runs):
    instance, port = tmp_path / "instance", free_port()
    run = Run(instance, port)
    runs.append(run)
    link = run.wait_for(FIRST, "first administrator line")[1]
    page = requests.get(link, timeout=30)
    assert page.status_code == 200
    assert 'name="password2"' in page.text
    deadline = time.monotonic() + DEADLINE
    while heartbeats(instance) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert heartbeats(instance) >= 1, "the notify worker never beat beside the web server"
    run.interrupt()

    # The administrator sets up the account through the link; the next make run prints no link.
    with sqlite3.connect(instance / "qzbg.sqlite3") as conn:
        conn.execute("UPDATE staff_users SET password_hash = 'set-by-the-owner' WHERE username = 'admin'")
    again = Run(instance, port)
    runs.append(again)
    again.wait_for(re.compile(r"^setup: an administrator exists"), "the setup process's answer")
    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).raise_for_status()
    again.interrupt()
    assert not any(FIRST.search(line) for line in again.seen), again.seen
