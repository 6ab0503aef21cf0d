"""Operator commands for company settings, mailbox accounts and key rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

from dashboard import accounts, mailboxes
from dashboard.cli import engine, fail, read_password
from dashboard.company_settings import apply_company_changes, current_values, validate_sync_settings
from dashboard.db import read_session, write_session
from dashboard.models import Mailbox, User
from dashboard.providers import PROVIDERS, SECURITY_CHOICES
from dashboard.security import SecretBox, secret_box
from dashboard.sync.imap_client import ImapError

company_cli = AppGroup("company", help="Company profile and sync settings.")
accounts_cli = AppGroup("accounts", help="Connected mailboxes.")
keys_cli = AppGroup("keys", help="Encryption keys of mailbox secrets.")


@company_cli.command("show")
def company_show() -> None:
    """Print the company profile and sync settings as JSON."""
    with read_session(engine()) as session:
        company = accounts.get_company(session)
        if company is None:
            fail(accounts.AccountError("run `flask --app dashboard setup` first"))
        click.echo(json.dumps(current_values(company), indent=2, ensure_ascii=False))


@company_cli.command("set")
@click.option("--name")
@click.option("--domain", "domains", multiple=True, help="Replaces the domain list.")
@click.option("--internal-only", type=click.Choice(["skip", "sync"]))
@click.option("--never-log", multiple=True, help="Replaces the never-log list.")
@click.option("--visibility", type=click.Choice(["all", "subject", "metadata"]))
@click.option("--auto-create", type=click.Choice(["never", "suggest", "sent", "all"]))
@click.option("--import-days")
@click.option("--interval-minutes")
@click.option("--stale-days", help="Days before a lead shows 'awaiting reply'.")
@click.option("--tracking", type=click.Choice(["on", "off"]), help="Smart-email tracking.")
def company_set(
    name,
    domains,
    internal_only,
    never_log,
    visibility,
    auto_create,  # type: ignore[no-untyped-def]
    import_days,
    interval_minutes,
    stale_days,
    tracking,
) -> None:
    """Change company settings, validated exactly like the page."""
    raw = {
        "visibility": visibility,
        "auto_create": auto_create,
        "import_days": import_days,
        "interval_minutes": interval_minutes,
        "stale_days": stale_days,
        "tracking": None if tracking is None else tracking == "on",
        "never_log": list(never_log) or None,
        "skip_internal": None if internal_only is None else internal_only == "skip",
    }
    try:
        changes = validate_sync_settings({k: v for k, v in raw.items() if v is not None})
        if name is not None:
            changes["name"] = name.strip() or fail(accounts.AccountError("empty name"))
        if domains:
            changes["domains"] = accounts.normalize_domains(list(domains))
        with write_session(engine()) as session:
            company = accounts.get_company(session)
            if company is None:
                raise accounts.AccountError("run `flask --app dashboard setup` first")
            changed = apply_company_changes(session, company, changes, actor=None)
    except accounts.AccountError as error:
        fail(error)
    click.echo(f"Changed: {', '.join(changed) or 'nothing'}.")


@accounts_cli.command("add")
@click.option("--owner", "owner_email", required=True, help="Email of the LeadSync user.")
@click.option("--provider", type=click.Choice(list(PROVIDERS)), required=True)
@click.option("--address", required=True)
@click.option("--username", default="", help="Login name when it is not the address.")
@click.option("--host", default="")
@click.option("--port", type=int)
@click.option("--security", type=click.Choice(SECURITY_CHOICES), default="tls")
@click.option("--password-stdin", is_flag=True)
def accounts_add(
    owner_email,
    provider,
    address,
    username,
    host,
    port,
    security,  # type: ignore[no-untyped-def]
    password_stdin,
) -> None:
    """Connect a mailbox after verifying it for real, exactly like the page."""
    password = read_password(password_stdin)
    request = mailboxes.ConnectionRequest(
        provider, address, password, username, host, port, security, host, None, security
    )
    with write_session(engine()) as session:
        owner = session.exec(select(User).where(User.email == owner_email.strip().lower())).first()
        if owner is None:
            fail(accounts.AccountError(f"no user {owner_email}"))
        try:
            mailbox = mailboxes.connect_mailbox(
                session,
                user=owner,
                request=request,
                box=secret_box(),
                ca_file=current_app.config.get("IMAP_CA_FILE"),
                timeout=float(current_app.config["IMAP_TIMEOUT"]),
            )
        except (accounts.AccountError, ImapError) as error:
            session.commit()  # keep the failure in the account's log
            fail(error)
    click.echo(f"Connected {mailbox.address}; folders: {', '.join(mailbox.folders)}.")


def mailbox_rows(session) -> list[dict]:  # type: ignore[no-untyped-def]
    """Each mailbox with its owner and status, for `accounts list`."""
    rows = session.exec(select(Mailbox, User).join(User, User.id == Mailbox.user_id))
    return [
        {
            "address": m.address,
            "owner": u.email,
            "provider": m.provider,
            "status": m.status,
            "connected": m.connected,
            "folders": m.folders,
            "last_error": m.last_error_code,
            "last_success_at": m.last_success_at.isoformat() if m.last_success_at else None,
        }
        for m, u in rows
    ]


@accounts_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def accounts_list(as_json: bool) -> None:
    """Show each mailbox's owner and status."""
    with read_session(engine()) as session:
        rows = mailbox_rows(session)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['address']}\t{row['owner']}\t{row['status']}\t{row['last_error'] or ''}")


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
            session.add(mailbox)
    write_keys(path, [new_key])
    click.echo(f"New key in place; {len(stored)} mailbox secret(s) re-encrypted.")


COMMANDS = (company_cli, accounts_cli, keys_cli)
