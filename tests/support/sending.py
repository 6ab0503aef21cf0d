"""Smart-email test data: a lead to write to, a mailbox whose SMTP is the test server, and
the compose form's fields as a browser would post them."""

from __future__ import annotations

import email
import email.policy
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Engine

from dashboard.db.engine import write_session
from dashboard.models import Lead, LeadAddress, Mailbox, Notification, User
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


def notify(engine: Engine, user: User, lead: Lead | None, kind: str = "open") -> int:
    """A notification for the user about the lead (as tracking or the sync writes them)."""
    with write_session(engine) as session:
        note = Notification(
            user_id=user.id, kind=kind, lead_id=lead.id if lead else None,
            detail=f"someone{factories.next_number()}@cliente.test",
        )  # fmt: skip
        session.add(note)
        session.flush()
        return note.id


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


class FormFields(HTMLParser):
    """What a browser posts for the first <form> of a page: named inputs (checked boxes only),
    textareas, and each select's selected option (else its first)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._forms = 0
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        self._forms += tag == "form"
        name = attr.get("name")
        if self._forms != 1 or (tag != "option" and not name):
            return
        if tag == "input" and (attr.get("type") != "checkbox" or "checked" in attr):
            self.fields[name] = attr.get("value", "")
        elif tag == "textarea":
            self._textarea, self.fields[name] = name, ""
        elif tag == "select":
            self._select = name
        elif (
            tag == "option"
            and self._select
            and (self._select not in self.fields or "selected" in attr)
        ):
            self.fields[self._select] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea:
            # Browsers read CR LF as LF, then drop the newline right after <textarea> (WTForms
            # writes one).
            text = self.fields[self._textarea].replace("\r\n", "\n").replace("\r", "\n")
            self.fields[self._textarea] = text.removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(html: str) -> dict[str, str]:
    """The fields a browser would post for the page's first form."""
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def tracked_paths(smtp_server: SmtpServer, public_url: str) -> tuple[str, str]:
    """The open pixel and the first click URL of the last message received, as app paths."""
    message = email.message_from_bytes(
        smtp_server.messages[-1].content, policy=email.policy.default
    )
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    pixel = re.search(rf'{re.escape(public_url)}(/t/o/[^"]+)"', html)
    click = re.search(rf'{re.escape(public_url)}(/t/c/[^"]+)"', html)
    assert pixel and click, "no tracked pixel or link in the message"
    return pixel.group(1), click.group(1)
