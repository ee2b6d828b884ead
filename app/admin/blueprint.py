"""The one HTML blueprint of ``/admin/*``: its pages are the modules of this package (accounts and police units in
``routes``, member units in ``units``, the duty roster and sandbox in ``notify``, dead letters in ``outbox``, the
audit log in ``audit_log``), each attaching its views to ``bp``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
