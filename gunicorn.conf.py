"""gunicorn settings for `make run` and production (override with GUNICORN_CMD_ARGS)."""

import multiprocessing
import os

bind = os.environ.get("QZBG_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("QZBG_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = 1
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
