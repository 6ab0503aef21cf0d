"""`flask --app dashboard keys rotate`: the keys that encrypt mailbox secrets."""

from __future__ import annotations

import os
from pathlib import Path

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

from dashboard.cli.common import engine
from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.models import Mailbox, OAuthApp

keys_cli = AppGroup("keys", help="Encryption keys of mailbox secrets.")


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, keeping mode 0600."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"\n".join(keys) + b"\n")
    os.replace(tmp, path)


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Make a new key, re-encrypt every mailbox secret with it, then retire the old keys."""
    path = Path(current_app.instance_path) / "fernet.key"
    old_keys = [k for k in path.read_bytes().split() if k]
    new_key = Fernet.generate_key()
    write_keys(path, [new_key, *old_keys])  # a crash from here on still decrypts everything
    box = SecretBox([new_key, *old_keys])
    with write_session(engine()) as session:
        stored = list(session.exec(select(Mailbox).where(Mailbox.secret.is_not(None))))
        for mailbox in stored:
            mailbox.secret = box.rotate(mailbox.secret)
            if mailbox.access_token:  # an OAuth mailbox's access token
                mailbox.access_token = box.rotate(mailbox.access_token)
            session.add(mailbox)
        for app in session.exec(select(OAuthApp)):  # the client secrets of Google / Microsoft
            app.secret = box.rotate(app.secret)
            session.add(app)
    write_keys(path, [new_key])
    click.echo(f"New key in place; {len(stored)} mailbox secret(s) re-encrypted.")
