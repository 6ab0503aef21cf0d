"""Operator commands: `flask --app dashboard COMMAND ...` (setup, users, company, accounts,
keys, leads, sync, db, backup, restore).

One module per command group; every refusal prints one clear line and exits non-zero.
"""

from __future__ import annotations

from flask import Flask

from dashboard.cli.backup import backup_command, restore_command
from dashboard.cli.company import company_cli
from dashboard.cli.db import db_cli
from dashboard.cli.keys import keys_cli
from dashboard.cli.leads import leads_cli
from dashboard.cli.mailboxes import accounts_cli
from dashboard.cli.sync import sync_command
from dashboard.cli.users import setup_command, users_cli


def register_commands(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    for command in (
        setup_command,
        users_cli,
        db_cli,
        sync_command,
        company_cli,
        accounts_cli,
        keys_cli,
        leads_cli,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
