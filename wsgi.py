"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

from __future__ import annotations

import sys

from app import create_app
from app.config import ConfigError
from app.crypto.wiring import check_keyring_matches_database


def _command(argv: list[str]) -> tuple[str, ...]:
    words = [a for a in argv[1:] if not a.startswith("-")]
    return tuple(words[words.index("wsgi") + 1 :] if "wsgi" in words else words)


# `flask keys init` creates the keyring, so it is the one command that may start without one;
# `flask db ...` may run before the tables exist.
_cmd = _command(sys.argv)
_keys_init = _cmd[:2] == ("keys", "init")
try:
    app = create_app(require_keyring=not _keys_init)
    if not _keys_init and _cmd[:1] != ("db",):
        check_keyring_matches_database(app)
except ConfigError as exc:
    sys.exit(f"qzbg: {exc}")
