"""``make bench`` at tiny sizes, so the bench cannot rot: every part runs, prints its figures and finds no error.

No timing is asserted: the figures are printed, never compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--seconds", "0.5", "--warmup", "0.2", "--concurrency", "2", "--workers", "1", "--reporters", "2",
    "--crypto-iterations", "5", "--list-sizes", "20,60", "--list-requests", "3", "--worker-messages", "5",
    "--rotation-sizes", "100,200", "--rotation-batch-size", "7",
    "--inbox-sizes", "20,60", "--inbox-requests", "3",
    "--json", "-",
]
FIGURES = [
    "submission / ceiling:", "p99 = ", "ceiling app (bench/ceiling.py",
    "p50 at 60 / at 20:", "worker / fake:", "raw re-wrap (Vault.rewrap in a loop", "keys/s at 200 / at 100:",
    "blind index of one value", "first page: p50 at 60 / at 20:", "filtered page: p50 at 60 / at 20:",
]


TELLING = ("PROBLEM", "error sample", "warm-up", "statuses")


def diagnosis(done: subprocess.CompletedProcess[str]) -> str:
    """Every line of the output that says what went wrong (wherever it is), then the output's tail."""
    telling = [line for line in done.stdout.splitlines() if any(word in line for word in TELLING)]
    return "\n".join([*telling, "--- tail of stdout ---", done.stdout[-4000:], "--- stderr ---",
                      done.stderr[-2000:]])


@pytest.mark.slow
def test_the_bench_runs_every_part_at_tiny_sizes_and_prints_every_figure(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QZBG_", "FLASK_"))}
    backends = ["sqlite"]
    if os.environ.get("QZBG_TEST_DATABASE_URL"):
        url = make_url(os.environ["QZBG_TEST_DATABASE_URL"]).set(drivername="postgresql")
        env["QZBG_BENCH_DATABASE_URL"] = url.render_as_string(hide_password=False)
        backends.append("postgresql")

    done = subprocess.run(
        [sys.executable, "-m", "bench.run", *TINY, "--backends", ",".join(backends)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )

    assert done.returncode == 0, diagnosis(done)
    assert "PROBLEM" not in done.stdout, diagnosis(done)
    assert "Traceback" not in done.stderr
    for name in backends:
        assert f"== {name}: reporter list, notify worker, keys rotate" in done.stdout
    for figure in FIGURES:
        assert done.stdout.count(figure) >= (1 if figure == "blind index of one value" else len(backends)), figure
