"""The suite hashes at the least argon2 cost (tests/conftest.py); production's cost is pinned here, once."""

from __future__ import annotations

import importlib
import sys

from argon2 import extract_parameters


def _fresh(module_name: str):
    """The module as production imports it, apart from the copy the suite's fixture made cheap. Afterwards the
    suite's copy is put back in ``sys.modules`` and as its package's attribute (an import sets that too, and
    ``from package import module`` reads it: a later monkeypatch would land on the fresh copy)."""
    package_name, _, attribute = module_name.rpartition(".")
    package = sys.modules[package_name]
    saved = sys.modules.pop(module_name)
    try:
        return importlib.import_module(module_name)
    finally:
        sys.modules[module_name] = saved
        setattr(package, attribute, saved)


def test_staff_passwords_are_argon2id_with_rfc_9106s_second_recommended_cost():
    passwords = _fresh("app.auth.passwords")
    params = extract_parameters(passwords.hash_password("correct horse battery staple"))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == ("ID", 3, 64 * 1024, 1)
    assert passwords.verify(passwords.hash_password("x" * 12), "x" * 12)
    assert not passwords.needs_rehash(passwords.hash_password("y" * 12))


def test_a_password_hashed_at_a_lower_cost_is_rehashed_at_production_cost_on_login():
    passwords = _fresh("app.auth.passwords")
    from tests.conftest import CHEAP_ARGON2

    assert passwords.needs_rehash(CHEAP_ARGON2.hash("z" * 12))
    assert passwords.verify(CHEAP_ARGON2.hash("z" * 12), "z" * 12)  # the cost is read from the hash


def test_status_codes_are_argon2id_with_owasps_minimum_cost():
    service = _fresh("app.reports.service")
    params = extract_parameters(service._hasher.hash("ABCDEFGHJK"))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == ("ID", 2, 19 * 1024, 1)
