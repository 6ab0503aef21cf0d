"""`flask --app dashboard accounts add|list|show|disconnect|reconnect`: connected mailboxes.

Every command goes through the same service and status functions as the pages: a
(re)connection is verified for real by mailboxes.service, changes are audited with the
actor "cli", and `show` counts with mailboxes.status.
"""

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
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes import status as sync_status
from dashboard.mailboxes.messages import explain_stored
from dashboard.mailboxes.providers import PROVIDERS, SECURITY_CHOICES
from dashboard.models import Mailbox, User
from dashboard.sync.scheduler import request_sync

accounts_cli = AppGroup("accounts", help="Connected mailboxes.")


def verified_connect(
    session: Session, owner: User, request: mailboxes.ConnectionRequest
) -> Mailbox:
    """Connect after verifying for real, like the page; a refusal ends the command with its
    one-line reason (the failure stays in the account's log)."""
    try:
        return mailboxes.connect_mailbox(
            session,
            user=owner,
            request=request,
            box=secret_box(),
            ca_file=current_app.config.get("IMAP_CA_FILE"),
            timeout=float(current_app.config["IMAP_TIMEOUT"]),
        )
    except (accounts.AccountError, ImapError, mailboxes.SmtpCheckError) as error:
        session.commit()
        fail(error)


@accounts_cli.command("add")
@click.option("--owner", "owner_email", required=True, help="Email of the LeadSync user.")
# OAuth providers connect in the browser (consent), never with a password from here.
@click.option(
    "--provider", type=click.Choice([k for k, p in PROVIDERS.items() if not p.oauth]), required=True
)
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
        mailbox = verified_connect(session, owner, request)
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


def mailbox_at(session: Session, address: str) -> Mailbox:
    """The mailbox with this address, or a one-line refusal."""
    mailbox = session.exec(
        select(Mailbox).where(Mailbox.address == address.strip().lower())
    ).first()
    if mailbox is None:
        fail(accounts.AccountError(f"no mailbox {address}"))
    return mailbox


def iso(value: Any) -> str | None:
    """A datetime as ISO 8601, None as None."""
    return value.isoformat() if value else None


def mailbox_report(session: Session, mailbox: Mailbox) -> dict[str, Any]:
    """What `accounts show` prints: status, schedule, counts and the last error in words."""
    owner = session.get(User, mailbox.user_id)
    code = mailbox.last_error_code
    cause = (
        explain_stored(mailbox, code, float(current_app.config["IMAP_TIMEOUT"])) if code else None
    )
    return {
        "address": mailbox.address,
        "owner": owner.email if owner else None,
        "provider": mailbox.provider,
        "status": mailbox.status,
        "connected": mailbox.connected,
        "last_success_at": iso(mailbox.last_success_at),
        "next_sync_at": iso(mailbox.next_sync_at),
        "stored": sync_status.stored_count(session, mailbox.id),
        "skipped": sync_status.skipped_counts(session, mailbox.id),
        "seen_again": sync_status.seen_again_in_history(session, mailbox.id),
        "last_error": {"code": code, "cause": cause.message} if cause else None,
    }


@accounts_cli.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
def accounts_show(address: str, as_json: bool) -> None:
    """Show one mailbox: owner, status, last success, next run, counts, last error."""
    with read_session(engine()) as session:
        report = mailbox_report(session, mailbox_at(session, address))
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    error = report["last_error"]
    for label, value in (
        ("address", report["address"]), ("owner", report["owner"]),
        ("provider", report["provider"]), ("status", report["status"]),
        ("last success", report["last_success_at"] or "-"),
        ("next run", report["next_sync_at"] or "-"), ("stored", report["stored"]),
        ("skipped", ", ".join(f"{k}={v}" for k, v in sorted(report["skipped"].items())) or "-"),
        ("seen again", report["seen_again"]),
        ("last error", f"{error['code']}: {error['cause']}" if error else "-"),
    ):  # fmt: skip
        click.echo(f"{label}: {value}")


@accounts_cli.command("disconnect")
@click.argument("address")
@click.option(
    "--keep-history/--remove-history",
    default=True,
    help="Keep the synced emails (default), or delete those seen only through this mailbox "
    "with its skip ledger and cursors (also works on a mailbox already disconnected).",
)
@click.option(
    "--remove-emptied-leads",
    is_flag=True,
    help="With --remove-history: also delete the leads the sync created that are left with "
    "no email.",
)
def accounts_disconnect(address: str, keep_history: bool, remove_emptied_leads: bool) -> None:
    """Forget a mailbox's password and stop syncing it, keeping or removing its history."""
    with write_session(engine()) as session:
        mailbox = mailbox_at(session, address)
        if not mailbox.connected and keep_history:
            fail(accounts.AccountError(f"{mailbox.address} is not connected"))
        removal = mailboxes.disconnect_mailbox(
            session, mailbox, None,
            remove_history=not keep_history, remove_emptied_leads=remove_emptied_leads,
        )  # fmt: skip
    if removal is None:
        click.echo(f"Disconnected {mailbox.address}; its stored emails stay.")
        return
    click.echo(
        f"Disconnected {mailbox.address} and removed its history: "
        f"{removal.emails_only_here} emails seen only through it deleted, "
        f"{removal.emails_shared} also seen by other mailboxes kept, "
        f"{removal.skipped} skip-ledger rows deleted, "
        f"{len(removal.emptied_leads)} emptied leads deleted."
    )


@accounts_cli.command("reconnect")
@click.argument("address")
@click.option("--password-stdin", is_flag=True)
def accounts_reconnect(address: str, password_stdin: bool) -> None:
    """Give a mailbox a new app password, verified for real (IMAP, then SMTP) like the page;
    the next round starts at once."""
    with read_session(engine()) as session:
        mailbox_at(session, address)  # an unknown address is refused before the password
    password = read_password(password_stdin)
    with write_session(engine()) as session:
        mailbox = mailbox_at(session, address)
        owner = session.get(User, mailbox.user_id)
        mailbox = verified_connect(session, owner, mailboxes.reconnect_request(mailbox, password))
        request_sync(session, mailbox.id)
    click.echo(f"Reconnected {mailbox.address} for {owner.email}; it syncs shortly.")
