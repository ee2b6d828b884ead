"""The mini-program's own tests (jest with miniprogram-simulate, in miniprogram/tests/) run in the suite: every page
and component rendered and driven with a fake ``wx``. Run from pytest so that xdist runs them beside the Python
tests instead of after them, in the one ``make test`` command."""

from __future__ import annotations

import pytest

from tests.miniprogram.conftest import run_jest


@pytest.mark.slow
def test_the_mini_program_pages_pass_their_jest_tests():
    result = run_jest()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "failed" not in result.stderr.splitlines()[-5], result.stderr[-2000:]
