"""The staff fixtures of tests/auth (accounts of every role, a client logged in through the real pages)."""

from tests.auth.conftest import logged_in, staff  # noqa: F401 - fixtures
