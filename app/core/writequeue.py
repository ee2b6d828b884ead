"""SQLite writers of one database file queue here, not in SQLite's busy handler.

SQLite lets one connection write at a time; the others wait in its busy handler,
which sleeps and retries with growing pauses (up to 100 ms each). Under a burst of
submissions a waiter sleeps on while the lock has long been free, and whoever
happens to retry first wins: throughput drops and a few requests wait seconds
(p99 80× p50 in ``make bench``). So before ``BEGIN IMMEDIATE`` a connection joins
this queue: the threads of a process wait on a lock (woken the moment it is
released), and one thread per process holds an ``flock`` on ``<database>-writer.lock``
for the other processes (gunicorn workers, the notify worker, CLI commands), polled
every millisecond or two. The queue is released as soon as the transaction commits
or rolls back, or its connection is closed.

It only orders writers that go through it: any other connection still meets
SQLite's own lock and busy timeout, as before. A writer that cannot join within
the timeout goes on without the queue (SQLite's busy timeout then decides), so the
queue can delay a writer but never fail or hang one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from typing import Any

_POLL_FIRST, _POLL_MAX = 0.0001, 0.0005  # seconds between flock attempts of the one waiting thread


class WriteQueue:
    """One database file's writers, in this process and across processes."""

    def __init__(self, lock_path: str, timeout: float) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self._pid = -1
        self._mutex = threading.Lock()
        self._fd = -1
        self._holder: int | None = None

    def _for_this_process(self) -> None:
        """Set up this process's mutex and lock file once, whichever of its threads writes first.

        A fresh gunicorn worker's first writers arrive together: unguarded, each set up a mutex and a
        descriptor of its own, one flock stayed held on a descriptor nobody would unlock, and every writer
        after it waited out the timeout (or met the descriptor still unset).
        """
        if self._pid == os.getpid():
            return
        with _setup_lock:
            if self._pid == os.getpid():
                return
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._mutex, self._holder, self._fd = threading.Lock(), None, fd
            self._pid = os.getpid()  # last: a thread that sees it sees everything above

    def _forget_parent(self) -> None:
        """In a child just forked (one thread): nothing of the parent's turn is held here. The inherited
        descriptor is closed so that the child never keeps the parent's flock alive."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._pid, self._fd, self._holder = -1, -1, None

    def acquire(self, connection: Any) -> bool:
        """Wait for this connection's turn to write; False when it goes on without the queue."""
        self._for_this_process()
        if self._holder == id(connection):
            return True
        deadline = time.monotonic() + self.timeout
        if not self._mutex.acquire(timeout=self.timeout):
            return False
        pause = _POLL_FIRST
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._mutex.release()
                    return False
                time.sleep(pause)
                pause = min(pause * 1.5, _POLL_MAX)
            except OSError:
                self._mutex.release()
                return False
        self._holder = id(connection)
        return True

    def release(self, connection: Any) -> None:
        """The connection's transaction is over (or the connection is gone): the next writer's turn."""
        if self._pid != os.getpid() or self._holder != id(connection):
            return
        self._holder = None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


_queues: dict[str, WriteQueue] = {}
_queues_lock = threading.Lock()
_setup_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _queues_lock, _setup_lock
    _queues_lock, _setup_lock = threading.Lock(), threading.Lock()  # a parent's thread may have held one
    for queue in list(_queues.values()):
        queue._forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


def queue_for(database: str, timeout: float) -> WriteQueue:
    """The queue of a database file, shared by every engine of this process on that file."""
    path = os.path.realpath(database)
    with _queues_lock:
        queue = _queues.get(path)
        if queue is None:
            queue = _queues[path] = WriteQueue(f"{path}-writer.lock", timeout)
        return queue
