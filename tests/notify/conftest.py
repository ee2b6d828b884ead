"""Staff fixtures of tests/auth for the outbox pages."""

from tests.auth.conftest import logged_in, staff  # noqa: F401 - fixtures
