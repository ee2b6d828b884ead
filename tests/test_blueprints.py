"""One HTML blueprint per feature, named after it, so that a URL tells the file: everything under ``/admin`` is the
``admin`` blueprint of ``app/admin/``, and every HTML blueprint is named after the package or module that defines
it."""

from __future__ import annotations

from flask import Flask

from app.core.rest import ApiBlueprint


def _html_blueprints(app: Flask) -> dict[str, str]:
    return {name: bp.import_name for name, bp in app.blueprints.items()
            if not isinstance(bp, ApiBlueprint) and bp.import_name.startswith("app.")}


def test_every_admin_url_is_served_by_the_admin_blueprint_of_app_admin(app):
    owners = {rule.endpoint.partition(".")[0] for rule in app.url_map.iter_rules()
              if rule.rule == "/admin" or rule.rule.startswith("/admin/")}
    assert owners == {"admin"}
    assert app.blueprints["admin"].import_name.startswith("app.admin.")


def test_each_html_blueprint_is_named_after_its_package_or_module(app):
    for name, import_name in _html_blueprints(app).items():
        parts = import_name.split(".")
        assert name in parts[1:], (name, import_name)
