"""``make demo``: a training deployment on this machine, with synthetic data, in one command.

Its own instance directory (``instance-demo/`` or ``--instance``: secret key, keyring, SQLite database,
attachments), never the one of ``make run``: any QZBG_DATABASE_URL, QZBG_SECRET_KEY, QZBG_KEYRING or
QZBG_ATTACHMENTS_DIR of the calling shell is ignored (``QZBG_DEMO_DATABASE_URL`` may name a PostgreSQL
database of its own). Then, with ``QZBG_TRAINING=1``: ``keys init``, ``db upgrade``, ``demo reset``, the fake
WeChat/WeCom on ``QZBG_FAKE_WECHAT_PORT`` (default 8901, both API bases pointed at it), the notify worker and
gunicorn on ``QZBG_BIND``. Everything those processes write goes to ``<instance>/demo.log`` (named on screen), so
the terminal ends with what the trainer needs: ``[demo] serving on <URL>`` and one ``demo account:`` line per
account. SIGINT (Ctrl-C) or SIGTERM stops every process it started; so does any of them dying.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
# The calling shell's settings that could point the demo at a real deployment's data.
NOT_INHERITED = ("QZBG_DATABASE_URL", "QZBG_SECRET_KEY", "QZBG_KEYRING", "QZBG_ATTACHMENTS_DIR",
                 "QZBG_INSTANCE_PATH", "QZBG_REDIS_URL", "QZBG_SMTP_URL", "QZBG_WECOM_CORPID", "QZBG_WECOM_SECRET",
                 "QZBG_WECOM_AGENTID")
STOP_GRACE = 15.0  # seconds each process has to stop after SIGTERM before it is killed


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def prepare_instance(instance: Path) -> None:
    """The instance directory (0700), its secret key and its keyring's directory, as ``make run`` makes them."""
    instance.mkdir(parents=True, exist_ok=True)
    instance.chmod(0o700)
    secret = instance / "secret_key"
    if not secret.exists():
        old = os.umask(0o077)
        try:
            secret.write_text(secrets.token_urlsafe(48) + "\n")
        finally:
            os.umask(old)
    keys = instance / "keys"
    keys.mkdir(exist_ok=True)
    keys.chmod(0o700)


def demo_environment(instance: Path, fake_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    fake = f"http://127.0.0.1:{fake_port}"
    env.update({
        "QZBG_TRAINING": "1",
        "QZBG_INSTANCE_PATH": str(instance),
        "QZBG_DATABASE_URL": os.environ.get("QZBG_DEMO_DATABASE_URL") or f"sqlite:///{instance / 'qzbg.sqlite3'}",
        "QZBG_KEYRING": str(instance / "keys" / "keyring.json"),
        "QZBG_ATTACHMENTS_DIR": str(instance / "attachments"),
        "QZBG_WECHAT_API_BASE": fake,
        "QZBG_WECOM_API_BASE": fake,
        "QZBG_WECHAT_APPID": env.get("QZBG_DEMO_WECHAT_APPID", "wx-demo-appid"),
        "QZBG_WECHAT_SECRET": env.get("QZBG_DEMO_WECHAT_SECRET", "demo-fake-secret"),
        "QZBG_WECHAT_STATUS_TEMPLATE_ID": env.get("QZBG_WECHAT_STATUS_TEMPLATE_ID", "DEMO_STATUS_TEMPLATE"),
        "QZBG_WECHAT_ENV_VERSION": env.get("QZBG_WECHAT_ENV_VERSION", "develop"),
        "QZBG_WORKERS": env.get("QZBG_WORKERS", "2"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


class Launcher:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False
        self.log_path = log_path
        self.log_file = log_path.open("ab")  # every child's output, appended across runs
        self.log_file.write(f"\n=== make demo, {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        self.log_file.flush()

    def tail(self, lines: int = 15) -> str:
        """The last lines of the log, to show with a failure."""
        self.log_file.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def run(self, *command: str, capture: bool = False) -> str:
        """A set-up step, its output in the log (its standard output returned with ``capture``); its failure stops
        the demo, showing the end of the log."""
        result = subprocess.run(  # noqa: S603 - our own fixed commands
            command, cwd=ROOT, env=self.env, check=False, stdout=subprocess.PIPE if capture else self.log_file,
            stderr=self.log_file,
        )
        if result.returncode != 0:
            raise SystemExit(f"{self.tail()}\n[demo] flask {' '.join(command[5:])} failed (exit {result.returncode});"
                             f" its output is above and in {self.log_path}")
        return result.stdout.decode("utf-8") if capture else ""

    def start(self, name: str, *command: str) -> None:
        # A session of its own: a terminal's Ctrl-C reaches the launcher, which stops each child in order. Its
        # output goes to the log: the terminal keeps the URL and the accounts in view.
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True,  # noqa: S603
                                   stdout=self.log_file, stderr=subprocess.STDOUT)
        self.children.append((name, process))
        log(f"{name} started (pid {process.pid})")

    def stop(self, *_: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        for _name, process in reversed(self.children):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + STOP_GRACE
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in {STOP_GRACE:.0f} s: killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log_file.close()
        log("stopped")

    def wait_for(self, url: str, name: str, timeout: float = 60.0) -> None:
        """Until ``url`` answers 200 (an ``http://host:port`` without a path: until the port takes connections)."""
        deadline = time.monotonic() + timeout
        parsed = urllib.parse.urlsplit(url)
        while time.monotonic() < deadline:
            self.check_children()
            try:
                if parsed.path:
                    with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback address
                        return
                with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"[demo] {name} did not answer at {url} within {timeout:.0f} s")

    def check_children(self) -> None:
        for name, process in self.children:
            if process.poll() is not None and not self.stopping:
                raise SystemExit(f"{self.tail()}\n[demo] {name} exited (code {process.returncode}); its output is "
                                 f"above and in {self.log_path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instance", default=os.environ.get("QZBG_DEMO_INSTANCE", "instance-demo"),
                        help="the demo's own instance directory (default instance-demo/)")
    args = parser.parse_args()
    instance = (ROOT / args.instance).resolve() if not Path(args.instance).is_absolute() else Path(args.instance)
    if instance == (ROOT / "instance").resolve():
        raise SystemExit("[demo] refusing to use instance/: that is the make run deployment's directory")
    fake_port = int(os.environ.get("QZBG_FAKE_WECHAT_PORT", "8901"))
    bind = os.environ.get("QZBG_BIND", "127.0.0.1:5000")

    prepare_instance(instance)
    launcher = Launcher(demo_environment(instance, fake_port), instance / "demo.log")
    log(f"logs of every process: {launcher.log_path}")
    stop_requested: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        launcher.run(*flask("keys", "init"))
        launcher.run(*flask("db", "upgrade"))
        log("seeding the demo data (about half a minute)")
        seeded = launcher.run(*flask("demo", "reset", "--reports", os.environ.get("QZBG_DEMO_REPORTS", "300")),
                              capture=True).splitlines()
        accounts = [line for line in seeded if line.startswith("demo account:")]
        for line in seeded:
            if line not in accounts:
                print(line, flush=True)
        launcher.start("fake WeChat/WeCom", *flask("wechat", "fake-server", "--port", str(fake_port)))
        launcher.wait_for(f"http://127.0.0.1:{fake_port}", "the fake WeChat/WeCom")
        launcher.start("notify worker", *flask("notify", "worker"))
        launcher.start("gunicorn", sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app")
        host, _, port = bind.rpartition(":")
        launcher.wait_for(f"http://{host or '127.0.0.1'}:{port}/healthz", "the app")
        # Last, where the trainer looks: the address and the accounts (CONTRACT.md "Training").
        log(f"培训演示环境 ready; the trainer's page is /training/ (demo.trainer); logs: {launcher.log_path}; "
            "Ctrl-C stops everything")
        log(f"serving on http://{bind}")
        for line in accounts:
            print(line, flush=True)
        while True:
            launcher.check_children()
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(exc.code, file=sys.stderr, flush=True)
            return 1
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        launcher.stop()


if __name__ == "__main__":
    sys.exit(main())
