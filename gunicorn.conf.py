"""gunicorn settings for `make run` and production (override with GUNICORN_CMD_ARGS)."""

import multiprocessing
import os
import sys

bind = os.environ.get("QZBG_BIND", "127.0.0.1:5000")
# Threaded workers (gthread): a request waiting on WeChat or another provider holds one thread, not a
# whole process, so /healthz and report submissions go on meanwhile. Processes give CPU parallelism
# (one per core plus one: 3 on a 2-core host), threads cover I/O waits (16 each: 48 requests in flight
# on 2 cores). The app lets at most threads - 4 of them wait on WeChat per process
# (QZBG_WECHAT_MAX_CONCURRENT, a bulkhead), so four threads of each worker stay free for everything
# else however slow WeChat is, and a burst of 12 logins at a slow WeChat still fits in one worker
# (gthread workers accept greedily: one may take a whole burst). A thread holds a database connection
# only while it uses the database (never while waiting on WeChat); SQLAlchemy's pool caps it at 15 per
# process, so at most 6 workers x 15 = 90 connections, under PostgreSQL's default max_connections of 100.
worker_class = "gthread"
workers = int(os.environ.get("QZBG_WORKERS", min(multiprocessing.cpu_count() + 1, 6)))
threads = int(os.environ.get("QZBG_THREADS", 16))
timeout = 60
# A thread back from the database (or WeChat) waits for the GIL until the running thread gives it up:
# by default after 5 ms. A submission makes about ten round trips, several while it holds SQLite's write
# lock, so under load each could wait 5 ms and writers queue behind that. 0.5 ms keeps the wait short.
sys.setswitchinterval(float(os.environ.get("QZBG_SWITCH_INTERVAL", "0.0005")))
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
