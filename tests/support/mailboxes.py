"""Helpers shared by the issue-3 tests: the connect form, English clients, stored rows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from dashboard.db.engine import read_session
from dashboard.models import AuditEvent, Company, Mailbox, MailboxEvent
from tests.support.clients import log_in
from tests.support.servers.dovecot import MailboxUser

MAILBOX_URL = "/settings/mailbox/"


def connect_form(user: MailboxUser, **overrides: object) -> dict:
    """The "Outro IMAP" form filled for a Dovecot user on the test server, with no SMTP
    server (a mailbox that only syncs: nothing to check there); pass smtp_* to send too."""
    form = {
        "provider": "other",
        "address": user.address,
        "password": user.password,
        "imap_host": "127.0.0.1",
        "imap_port": str(user.server.port),
        "imap_security": "tls",
        "smtp_host": "",
        "smtp_port": "465",
        "smtp_security": "tls",
    }
    form.update({key: str(value) for key, value in overrides.items()})
    return form


def connect(client: FlaskClient, user: MailboxUser, **overrides: object):  # type: ignore[no-untyped-def]
    """Post the connect form; return the response."""
    return client.post(MAILBOX_URL, data=connect_form(user, **overrides))


def english_client(app: Flask, email: str) -> FlaskClient:
    """A client whose browser asks for English, logged in through the real form."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return log_in(client, email)


def mailbox_of(engine, user_id: int) -> Mailbox | None:  # type: ignore[no-untyped-def]
    """The stored mailbox of a user, if any."""
    with read_session(engine) as session:
        return session.exec(select(Mailbox).where(Mailbox.user_id == user_id)).first()


def all_mailboxes(engine) -> list[Mailbox]:  # type: ignore[no-untyped-def]
    """Every stored mailbox."""
    with read_session(engine) as session:
        return list(session.exec(select(Mailbox)))


def mailbox_events(engine, user_id: int) -> list[MailboxEvent]:  # type: ignore[no-untyped-def]
    """The account log of a user, oldest first."""
    with read_session(engine) as session:
        query = select(MailboxEvent).where(MailboxEvent.user_id == user_id)
        return list(session.exec(query.order_by(MailboxEvent.id)))


def audit_events(engine) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    """Every audit event, oldest first."""
    with read_session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))


def company(engine) -> Company:  # type: ignore[no-untyped-def]
    """The company record."""
    with read_session(engine) as session:
        return session.exec(select(Company)).one()


def add_account(app, owner: str, user, password: str | None = None, **options: object):  # type: ignore[no-untyped-def]
    """Run `flask accounts add` for a Dovecot user, the password on stdin."""
    settings = {
        "--provider": "other",
        "--address": user.address,
        "--host": "127.0.0.1",
        "--port": user.server.port,
        "--security": "tls",
        **{f"--{k.replace('_', '-')}": v for k, v in options.items()},
    }
    args = ["accounts", "add", "--owner", owner, "--password-stdin"]
    for key, value in settings.items():
        args += [key, str(value)]
    secret = user.password if password is None else password
    return app.test_cli_runner().invoke(args=args, input=f"{secret}\n")


def mail_on(
    when: datetime, *, to: str, sender: str | None = None, subject: str | None = None
) -> bytes:
    """A small message dated `when`; without sender or subject it has no From or Subject
    header at all (how a good part of a broken mailbox looks in the skip ledger)."""
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    message["To"] = to
    if subject is not None:
        message["Subject"] = subject
    message["Date"], message["Message-ID"] = format_datetime(when), make_msgid()
    message.set_content("Olá.")
    return message.as_bytes()


def at_noon_in_sao_paulo(days_ago: int) -> datetime:
    """Noon of a past day in the app's default zone (UTC-3), as an aware UTC time."""
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(15, 0), tzinfo=UTC)


def ca_bundle(path: Path, *ca_files: str) -> str:
    """One PEM file trusting every given CA (the Dovecot and the SMTP test servers have their
    own, and LEADSYNC_IMAP_CA_FILE serves both protocols); returns its path."""
    path.write_text("".join(Path(f).read_text() for f in ca_files))
    return str(path)
