"""`flask --app dashboard db upgrade|current`: the database schema by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dashboard.cli.common import engine
from dashboard.db.migrate import current_revision, upgrade

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the database schema (to head by default)."""
    upgrade(engine(), revision)
    click.echo(f"Database at revision {current_revision(engine())}.")


@db_cli.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    click.echo(current_revision(engine()) or "empty")
