"""The machine a run is on, and CPU time read from /proc."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import resource
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from bench.common import (
    CLK_TCK,
    ROOT,
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return None


def _git_revision() -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=ROOT, env=env, timeout=10).returncode
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": _git_revision(),
    }


def print_machine(info: dict[str, Any], args: argparse.Namespace) -> None:
    mem = f", {info['memory_gib']:.1f} GiB RAM" if info["memory_gib"] else ""
    print(f"qzbg benchmark, {info['date']}")
    print(f"machine : nproc {info['nproc']} (of {info['cpu_count']} CPUs), {info['cpu_model']}{mem}, {info['kernel']}")
    print(f"software: {info['python']}, SQLite {info['sqlite']}, commit {info['commit']}")
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    print(f"load avg: {load} at start (other work on this machine skews every figure)")
    print(
        f"run     : {args.seconds:g} s per scenario after {args.warmup:g} s warm-up, {args.concurrency} client threads "
        f"(http.client), gunicorn {args.workers} sync workers, {args.reporters} reporters"
    )
    print(
        "columns : non-2xx answers and connection failures are errors; latency is per request, connect included;\n"
        "          CPU s = this client process / gunicorn master+workers / PostgreSQL backends of the bench\n"
        "          database (SQLite runs inside the app); busy = all CPUs, any process, in the measured window"
    )


# -- CPU accounting ----------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime in ticks) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds used so far by ``root_pid`` and its direct children (gunicorn master and workers)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _proc_stat(pid)
        if stat and (pid == root_pid or stat[0] == root_pid):
            total += stat[1]
    return total / CLK_TCK


def pids_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each of ``pids`` that still exists."""
    out = {}
    for pid in pids:
        stat = _proc_stat(pid)
        if stat:
            out[pid] = stat[1] / CLK_TCK
    return out


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields_ = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)
    return sum(fields_) - idle, sum(fields_)


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
