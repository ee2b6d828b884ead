"""gunicorn's settings shorten the GIL switch interval: a thread back from the database gets the GIL soon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def switch_interval_after_loading_the_settings(env: dict[str, str] | None = None) -> float:
    code = "import runpy, sys; runpy.run_path('gunicorn.conf.py'); print(sys.getswitchinterval())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return float(done.stdout.strip())


def test_gunicorn_settings_make_the_gil_switch_interval_half_a_millisecond():
    assert abs(switch_interval_after_loading_the_settings() - 0.0005) < 1e-6


def test_the_switch_interval_can_be_set_for_a_deployment():
    import os

    env = {**os.environ, "QZBG_SWITCH_INTERVAL": "0.002"}
    assert abs(switch_interval_after_loading_the_settings(env) - 0.002) < 1e-6
