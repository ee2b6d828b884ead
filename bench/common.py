"""What every bench module shares: where the project is, the loopback host, fixed paths, the set-up error."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PG_ENV = "QZBG_BENCH_DATABASE_URL"
RELAXED_LIMIT = "1000000 per minute"
REPORTS_PATH = "/api/v1/reports"
HEALTH_PATH = "/healthz"
CLIENT_ID_MARK = b"00000000-0000-4000-8000-00000000c11d"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CEILING_TABLE = "bench_ceiling"  # the ceiling app's own table (bench/ceiling.py)

warnings.filterwarnings("ignore", message="Using the in-memory storage")


class BenchError(RuntimeError):
    """Set-up failed: one line that says what and where to look."""
