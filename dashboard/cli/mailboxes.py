"""`flask --app dashboard accounts add|list|show|reconnect|disconnect`: connected mailboxes."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import Session, select

from dashboard.accounts import service as accounts
from dashboard.cli.common import engine, fail, read_password
from dashboard.db.engine import read_session, write_session
from dashboard.db.flask import secret_box
from dashboard.mail.imap_client import ImapError
from dashboard.mailboxes import console
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes.providers import PROVIDERS, SECURITY_CHOICES
from dashboard.models import Mailbox, User

accounts_cli = AppGroup("accounts", help="Connected mailboxes.")


@accounts_cli.command("add")
@click.option("--owner", "owner_email", required=True, help="Email of the LeadSync user.")
@click.option("--provider", type=click.Choice(list(PROVIDERS)), required=True)
@click.option("--address", required=True)
@click.option("--username", default="", help="Login name when it is not the address.")
@click.option("--host", default="")
@click.option("--port", type=int)
@click.option("--security", type=click.Choice(SECURITY_CHOICES), default="tls")
@click.option(
    "--smtp-host", default="", help="SMTP server (other IMAP); without it the mailbox only syncs."
)
@click.option("--smtp-port", type=int, help="SMTP port (default 465).")
@click.option("--smtp-security", type=click.Choice(SECURITY_CHOICES), default="tls")
@click.option("--password-stdin", is_flag=True)
def accounts_add(
    owner_email: str,
    provider: str,
    address: str,
    username: str,
    host: str,
    port: int | None,
    security: str,
    smtp_host: str,
    smtp_port: int | None,
    smtp_security: str,
    password_stdin: bool,
) -> None:
    """Connect a mailbox after verifying it for real (IMAP, then SMTP), exactly like the page.

    --host/--port/--security and --smtp-* are for --provider other; a preset brings its own.
    """
    password = read_password(password_stdin)
    request = mailboxes.ConnectionRequest(
        provider, address, password, username, host, port, security,
        smtp_host, smtp_port, smtp_security,
    )  # fmt: skip
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
        except (accounts.AccountError, ImapError, mailboxes.SmtpCheckError) as error:
            session.commit()  # keep the failure in the account's log
            fail(error)
    sending = (
        f"{mailbox.smtp_host}:{mailbox.smtp_port}" if mailbox.smtp_host else "none (sync only)"
    )
    click.echo(
        f"Connected {mailbox.address}; folders: {', '.join(mailbox.folders)}; SMTP: {sending}."
    )


def mailbox_rows(session: Session) -> list[dict[str, Any]]:
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


def mailbox_by_address(session: Session, address: str) -> Mailbox:
    """The mailbox of this address (the connected one when an older row shares it), or fail."""
    found = session.exec(
        select(Mailbox)
        .where(Mailbox.address == address.strip().lower())
        .order_by(Mailbox.secret.is_(None), Mailbox.id.desc())
    ).first()
    if found is None:
        fail(accounts.AccountError(f"no mailbox {address}"))
    return found


def mailbox_report(session: Session, mailbox: Mailbox) -> dict[str, Any]:
    """One mailbox as the admins' console shows it: status, counts, ledger by reason."""
    owner = session.get(User, mailbox.user_id)
    placed = console.placed_counts(session, mailbox.id)
    runs = console.last_rounds(session, mailbox.id).get(mailbox.id, [])
    return {
        "address": mailbox.address,
        "owner": owner.email if owner else None,
        "provider": mailbox.provider,
        "status": mailbox.status if mailbox.connected else "disconnected",
        "connected": mailbox.connected,
        "folders": mailbox.folders,
        "last_error": mailbox.last_error_code,
        "last_success_at": mailbox.last_success_at.isoformat() if mailbox.last_success_at else None,
        "next_sync_at": mailbox.next_sync_at.isoformat() if mailbox.next_sync_at else None,
        "stored": console.stored_counts(session, mailbox.id).get(mailbox.id, 0),
        "skipped": console.skipped_by_reason(session, mailbox.id).get(mailbox.id, {}),
        "accounted_for": console.accounted_for(mailbox, placed),
        "last_rounds": [
            {
                "started_at": run.started_at.isoformat(),
                "fetched": run.fetched,
                "stored": run.stored,
                "skipped": run.skipped,
                "error": run.error_code,
            }
            for run in runs
        ],  # fmt: skip
    }


@accounts_cli.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
def accounts_show(address: str, as_json: bool) -> None:
    """Show one mailbox: status, emails stored, the skip ledger by reason, the last rounds."""
    with read_session(engine()) as session:
        report = mailbox_report(session, mailbox_by_address(session, address))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key in ("address", "owner", "provider", "status", "last_error", "last_success_at",
                "next_sync_at", "stored", "accounted_for"):  # fmt: skip
        click.echo(f"{key}: {report[key] if report[key] is not None else ''}")
    for reason, count in sorted(report["skipped"].items()):
        click.echo(f"skipped {reason}: {count}")


@accounts_cli.command("disconnect")
@click.argument("address")
def accounts_disconnect(address: str) -> None:
    """Forget a mailbox's password and stop syncing it; the emails stored stay."""
    with write_session(engine()) as session:
        mailbox = mailbox_by_address(session, address)
        if not mailbox.connected:
            fail(accounts.AccountError(f"{mailbox.address} is not connected"))
        mailboxes.disconnect_mailbox(session, mailbox, None)
    click.echo(f"Disconnected {mailbox.address}.")


def saved_request(mailbox: Mailbox, password: str) -> mailboxes.ConnectionRequest:
    """The mailbox's saved connection with a new password."""
    return mailboxes.ConnectionRequest(
        mailbox.provider, mailbox.address, password,
        "" if mailbox.username == mailbox.address else mailbox.username,
        mailbox.imap_host, mailbox.imap_port, mailbox.imap_security,
        mailbox.smtp_host or "", mailbox.smtp_port, mailbox.smtp_security or "tls",
    )  # fmt: skip


@accounts_cli.command("reconnect")
@click.argument("address")
@click.option("--password-stdin", is_flag=True)
def accounts_reconnect(address: str, password_stdin: bool) -> None:
    """Connect a mailbox again with a new app password, its other settings as saved;
    verified for real, like the page."""
    password = read_password(password_stdin)
    with write_session(engine()) as session:
        mailbox = mailbox_by_address(session, address)
        owner = session.get(User, mailbox.user_id)
        try:
            mailbox = mailboxes.connect_mailbox(
                session,
                user=owner,
                request=saved_request(mailbox, password),
                box=secret_box(),
                ca_file=current_app.config.get("IMAP_CA_FILE"),
                timeout=float(current_app.config["IMAP_TIMEOUT"]),
            )
        except (accounts.AccountError, ImapError, mailboxes.SmtpCheckError) as error:
            session.commit()  # keep the failure in the account's log
            fail(error)
    click.echo(f"Reconnected {mailbox.address}; folders: {', '.join(mailbox.folders)}.")
