"""``flask users create|list|deactivate|unlock|reset-totp|set-password``."""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth import service
from app.auth.models import ROLE_LABELS, StaffUser
from app.core.actor import Actor
from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.errors import AppError
from app.extensions import db
from app.offices import queries as offices

users_cli = AppGroup("users", help="Staff accounts.")


def _read_password() -> str:
    """Twice from standard input: a terminal prompt when interactive, two lines otherwise."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    first, second = sys.stdin.readline().rstrip("\r\n"), sys.stdin.readline().rstrip("\r\n")
    if first != second:
        raise click.ClickException("the two passwords differ")
    return first


def _user(username: str) -> StaffUser:
    user = service.find_by_username(username)
    if user is None:
        raise click.ClickException(f"no user {username}")
    return user


def _fail(exc: AppError) -> click.ClickException:
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
    return click.ClickException(f"{exc.message} {details}".strip())


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLE_LABELS)),
              help="trainer: a training deployment (QZBG_TRAINING=1) only")
@click.option("--office", "office_code", default=None, help="Office code (default: the default office).")
@click.option("--police-unit", "police_unit_code", default=None)
@click.option("--unit", "unit_code", default=None)
@click.option("--name", "display_name", default=None, help="显示名")
@click.option("--wecom-userid", default=None)
@click.option("--email", default=None)
@click.option("--mobile", default=None)
def create(username: str, role: str, office_code: str | None, police_unit_code: str | None,
           unit_code: str | None, display_name: str | None, wecom_userid: str | None, email: str | None,
           mobile: str | None) -> None:
    """Create a staff account; the password is read twice from standard input."""
    from app.offices.queries import police_unit_by_code
    from app.units.queries import by_code as unit_by_code

    password = _read_password()
    try:
        with unit_of_work():
            office = offices.by_code(office_code) if office_code else offices.default_office()
            new = service.NewUser(
                username=username, role=role, office=office, display_name=display_name,
                police_unit=police_unit_by_code(police_unit_code) if police_unit_code else None,
                unit=unit_by_code(unit_code) if unit_code else None,
                wecom_userid=wecom_userid, email=email, mobile=mobile,
            )
            user = service.create_user(new, password, actor=Actor.system(), now=dt.datetime.now(dt.UTC),
                                         vault=get_vault(), training=current_app.config["QZBG"].training)
            click.echo(f"user {user.username} created ({user.role}, office {office.code})")
    except AppError as exc:
        raise _fail(exc) from None


@users_cli.command("list")
def list_users() -> None:
    """Every account: username, role, office, state."""
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.username)):
        state = "active" if user.active else "inactive"
        if service.is_locked(user, dt.datetime.now(dt.UTC)):
            state += ",locked"
        totp_state = "totp" if user.totp_enrolled_at else "no-totp"
        click.echo(f"{user.username}\t{user.role}\t{user.office.code}\t{state}\t{totp_state}")


@users_cli.command("deactivate")
@click.argument("username")
def deactivate(username: str) -> None:
    """Deactivate an account and end its sessions."""
    with unit_of_work():
        service.deactivate(_user(username), actor=Actor.system(), now=dt.datetime.now(dt.UTC))
    click.echo(f"user {username} deactivated")


@users_cli.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift a lock after too many failed logins."""
    with unit_of_work():
        service.unlock(_user(username), actor=Actor.system(), now=dt.datetime.now(dt.UTC))
    click.echo(f"user {username} unlocked")


@users_cli.command("reset-totp")
@click.argument("username")
def reset_totp(username: str) -> None:
    """Make the user enrol a new authenticator at the next login (lost phone)."""
    with unit_of_work():
        service.reset_totp(_user(username), actor=Actor.system(), now=dt.datetime.now(dt.UTC))
    click.echo(f"user {username} must enrol two-factor again at the next login")


@users_cli.command("set-password")
@click.argument("username")
def set_password(username: str) -> None:
    """Give a user who forgot the password a new one (read twice from standard input); every session ends."""
    password = _read_password()
    try:
        with unit_of_work():
            service.change_password(_user(username), password, actor=Actor.system(), now=dt.datetime.now(dt.UTC))
    except AppError as exc:
        raise _fail(exc) from None
    click.echo(f"user {username}: password set, every session ended")


@users_cli.command("setup-link")
@click.argument("username")
def setup_link(username: str) -> None:
    """A new one-time setup link for USERNAME (72 hours): its owner chooses a password, then enrols TOTP. The
    account's password stops working at once, and every session ends."""
    from flask import current_app

    from app.auth import setup_links

    now = dt.datetime.now(dt.UTC)
    with unit_of_work():
        user = _user(username)
        setup_links.set_no_password(user, now=now)
        token = setup_links.issue(user, "reset_password", actor=Actor.system(), now=now)
    click.echo(setup_links.url(current_app.config["QZBG"].public_url, token))


@users_cli.command("first-admin")
def first_admin() -> None:
    """On a database with no administrator: print ``first administrator: <setup link>`` for an account ``admin``
    of the default office (``make run`` calls this once the server answers). Prints nothing otherwise."""
    from flask import current_app

    from app.auth import setup_links

    try:
        with unit_of_work():
            token = setup_links.first_administrator(offices.default_office(), now=dt.datetime.now(dt.UTC),
                                                    vault=get_vault())
    except AppError as exc:
        raise _fail(exc) from None
    if token is not None:
        click.echo(f"first administrator: {setup_links.url(current_app.config['QZBG'].public_url, token)}")
