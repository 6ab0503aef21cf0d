"""`flask --app dashboard setup` and `users add|list`: the company and its people."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlmodel import select

from dashboard.accounts import service as accounts
from dashboard.cli.common import engine, fail, read_password
from dashboard.db.engine import read_session, write_session
from dashboard.models import User
from dashboard.states import Role

users_cli = AppGroup("users", help="Manage users.")


@click.command("setup")
@with_appcontext
@click.option("--company", required=True, help="Company name.")
@click.option("--domain", "domains", multiple=True, required=True, help="Company email domain.")
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the admin password from stdin.")
def setup_command(
    company: str, domains: tuple[str, ...], admin_email: str, admin_name: str, password_stdin: bool
) -> None:
    """Create the company and its first administrator (the first-run page, scripted)."""
    password = read_password(password_stdin)
    try:
        with write_session(engine()) as session:
            user = accounts.run_setup(
                session,
                company=company,
                domains=list(domains),
                admin_email=admin_email,
                admin_name=admin_name,
                password=password,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            )
    except accounts.AccountError as error:
        fail(error)
    click.echo(f"Company {company.strip()!r} created; administrator {user.email}.")


@users_cli.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.REP.value, show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def users_add(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Add a user."""
    password = read_password(password_stdin)
    try:
        with write_session(engine()) as session:
            if not accounts.setup_done(session):
                raise accounts.AccountError("run `flask --app dashboard setup` first")
            user = accounts.create_user(
                session,
                email=email,
                name=name,
                password=password,
                role=role,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            )
    except accounts.AccountError as error:
        fail(error)
    click.echo(f"User {user.email} added as {user.role}.")


@users_cli.command("list")
def users_list() -> None:
    """List users: email, role, state, name."""
    with read_session(engine()) as session:
        for user in session.exec(select(User).order_by(User.email)):
            state = "active" if user.active else "inactive"
            click.echo(f"{user.email}\t{user.role}\t{state}\t{user.name}")
