"""``keys rotate`` at growing numbers of data keys, beside the Vault's raw re-wrap rate.

The data keys are real: made by ``Vault.new_data_key`` under the instance's keyring
and bulk-inserted with SQLAlchemy core. Each size is rotated by the real command
(``flask keys rotate`` through the click runner, in this process) and timed whole:
a new KEK written to the keyring file, then every data key re-wrapped in batches.
The raw rate is ``Vault.rewrap`` (unwrap under the old KEK, wrap under the new one)
in a loop over data keys held in memory, with no database at all.
"""

from __future__ import annotations

import dataclasses
import re
import time

from bench.common import BenchError
from bench.instance import BenchApp

CHUNK = 5000
RAW_KEYS = 20_000


@dataclasses.dataclass
class RotationFigure:
    size: int
    rewrapped: int
    seconds: float
    load_s: float

    @property
    def rate(self) -> float:
        return self.rewrapped / self.seconds if self.seconds else 0.0


def _fill_to(bench_app: BenchApp, size: int) -> int:
    """Add data keys until the table holds at least ``size``; how many it holds."""
    import os
    import uuid

    from sqlalchemy import func, insert, select

    from app.crypto.keyfile import KEY_BYTES
    from app.crypto.models import DataKey, utcnow
    from app.crypto.vault import get_vault

    with bench_app.context() as db:
        vault = get_vault()
        have = db.session.scalar(select(func.count()).select_from(DataKey)) or 0
        while have < size:
            rows = []
            now = utcnow()
            for _ in range(min(CHUNK, size - have)):
                key_id = uuid.uuid4()  # what Vault.new_data_key makes, without the ORM object
                kek_id, wrapped = vault.wrap(key_id, os.urandom(KEY_BYTES))
                rows.append({"id": key_id, "kek_id": kek_id, "wrapped": wrapped, "created_at": now})
            db.session.execute(insert(DataKey), rows)
            db.session.commit()
            have += len(rows)
    return have


def raw_rewrap_rate(cipher: str, count: int = RAW_KEYS) -> float:
    """Keys per second ``Vault.rewrap`` manages in memory (each key unwrapped from its stored form)."""
    from app.config import Settings
    from app.crypto import keyfile
    from app.crypto.vault import Vault

    vault = Vault(keyfile.generate(), cipher, Settings.blind_index)
    keys = [vault.new_data_key() for _ in range(count)]
    for key in keys:
        key.__dict__.pop("_raw", None)  # as loaded from the database
    vault.keyring = keyfile.with_new_kek(vault.keyring)
    started = time.perf_counter()
    for key in keys:
        vault.rewrap(key)
    return count / (time.perf_counter() - started)


def run(bench_app: BenchApp, sizes: list[int], batch_size: int) -> list[RotationFigure]:
    figures = []
    for size in sorted(sizes):
        started = time.perf_counter()
        held = _fill_to(bench_app, size)
        load_s = time.perf_counter() - started
        with bench_app.context():
            runner = bench_app.app.test_cli_runner()
            started = time.perf_counter()
            result = runner.invoke(args=["keys", "rotate", "--batch-size", str(batch_size)])
            seconds = time.perf_counter() - started
        found = re.search(r"re-wrapped (\d+) data keys; (\d+) still under older keys", result.output)
        if result.exit_code != 0 or found is None:
            raise BenchError(f"keys rotate failed at {size} keys: {result.output[-500:]} {result.exception!r}")
        if int(found.group(2)):
            raise BenchError(f"keys rotate left {found.group(2)} keys under older keys at {size}")
        figures.append(RotationFigure(held, int(found.group(1)), seconds, load_s))
    return figures
