"""Smart-email test data: a lead to write to and a mailbox whose SMTP is the test server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Engine

from dashboard.db.engine import write_session
from dashboard.models import Lead, LeadAddress, Mailbox, User
from tests.support import factories

if TYPE_CHECKING:
    from tests.support.servers.smtp import SmtpServer


def make_lead(engine: Engine, name: str, company: str = "Cliente SA") -> tuple[Lead, str]:
    """A lead with one address; returns the lead and its address."""
    address = f"{name.split()[0].lower()}{factories.next_number()}@cliente.test"
    with write_session(engine) as session:
        lead = Lead(name=name, company_name=company)
        session.add(lead)
        session.flush()
        session.add(LeadAddress(lead_id=lead.id, address=address))
    return lead, address


def connect_smtp(app: Flask, user: User, server: SmtpServer, password: str | None = None) -> int:
    """A mailbox row whose SMTP settings point at the test server; returns its id."""
    secret = app.extensions["leadsync.secrets"].encrypt(password or server.password)
    with write_session(app.extensions["leadsync.engine"]) as session:
        mailbox = Mailbox(
            user_id=user.id, provider="other", address=server.username,
            username=server.username, imap_host="127.0.0.1", imap_port=993,
            imap_security="tls", smtp_host=server.host, smtp_port=server.port,
            smtp_security=server.security, secret=secret,
        )  # fmt: skip
        session.add(mailbox)
        session.flush()
        return mailbox.id
