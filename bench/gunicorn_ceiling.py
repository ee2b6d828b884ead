"""gunicorn settings for the ceiling app: the project's ``gunicorn.conf.py`` (bind, workers, threads,
timeouts, preload), with a post-fork hook for the ceiling's own engine instead of the project's."""

from pathlib import Path
from runpy import run_path

globals().update(
    {k: v for k, v in run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py")).items()
     if not k.startswith("__") and k != "post_fork"}
)


def post_fork(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """Each worker opens its own database connections; none is shared across the fork."""
    from bench.ceiling import app, db

    with app.app_context():
        db.engine.dispose(close=False)
