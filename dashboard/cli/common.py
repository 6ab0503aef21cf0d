"""What every command group shares: the app's engine, password input, one-line refusals."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app
from sqlalchemy import Engine


def engine() -> Engine:
    """The app's engine."""
    return current_app.extensions["leadsync.engine"]


def read_password(from_stdin: bool) -> str:
    """Read a password from stdin (first line) or prompt for it twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def fail(error: Exception) -> NoReturn:
    """Print the refusal on one line and exit with status 1."""
    click.echo(f"Error: {error}", err=True)
    sys.exit(1)
