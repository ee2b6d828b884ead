"""gunicorn settings for `make run` and production (override with GUNICORN_CMD_ARGS)."""

import multiprocessing
import os

bind = os.environ.get("QZBG_BIND", "127.0.0.1:5000")
# Threaded workers (gthread): a request waiting on WeChat or another provider holds one thread, not a
# whole process, so /healthz and report submissions go on meanwhile. Processes give CPU parallelism
# (one per core plus one, 3 on a 2-core host), threads cover I/O waits (8 each: 24 requests in flight
# on 2 cores). Each thread may hold a database connection: workers x threads stays well under
# PostgreSQL's max_connections (100) and within SQLAlchemy's pool (5 + 10 overflow per process).
# The app caps WeChat calls in flight per process at threads - 2 (QZBG_WECHAT_MAX_CONCURRENT), so two
# threads of each worker stay free for everything else while WeChat hangs.
worker_class = "gthread"
workers = int(os.environ.get("QZBG_WORKERS", min(multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("QZBG_THREADS", 8))
timeout = 60
graceful_timeout = 30
# The app logs one JSON line per request (no query strings); gunicorn's access log would add URLs.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("QZBG_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Fail at start-up, not on the first request, when settings or the keyring are wrong.
preload_app = True


def post_fork(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """Each worker opens its own database connections; none is shared across the fork."""
    from app.extensions import db
    from wsgi import app

    with app.app_context():
        db.engine.dispose(close=False)
