"""A synced message is shown whole, through a real Dovecot's BODYSTRUCTURE: every body part in
order, every attachment listed under its own name, inline images in the body and not in the
list. Messages are written by hand, as the mail programs that send them write them."""

from __future__ import annotations

import base64
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email, Lead
from tests.support.clients import log_in
from tests.support.factories import next_number
from tests.support.leads import text_of
from tests.support.servers.dovecot import MailboxUser
from tests.support.sync import connect, sync

SENT = "[Gmail]/E-mails enviados"
LEAD = "lead@client.test"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4DwABAQEABRjYTgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def message(sender: str, content_type: str, body: str) -> bytes:
    """A whole message from the rep to the lead: headers, then this top-level body."""
    n = next_number()
    head = (
        f"From: {sender}\r\nTo: {LEAD}\r\nSubject: Whole {n}\r\n"
        f"Date: Mon, 01 Dec 2025 10:00:00 -0300\r\nMessage-ID: <whole.{n}@acme.test>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    )
    return (head + body).replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def multipart(boundary: str, *parts: str) -> str:
    """The body of a multipart: each part (its headers, a blank line, its content)."""
    return "".join(f"--{boundary}\n{part}\n" for part in parts) + f"--{boundary}--\n"


def html_part(html: str) -> str:
    """A text/html part, its charset parameter folded as Apple Mail writes it."""
    return f"Content-Type: text/html;\n\tcharset=utf-8\nContent-Transfer-Encoding: 7bit\n\n{html}"


def text_part(text: str) -> str:
    """A text/plain part."""
    return f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}"


def image_part(headers: str) -> str:
    """A 1x1 PNG with these extra headers."""
    data = base64.encodebytes(PNG).decode()
    return f"Content-Type: image/png\n{headers}Content-Transfer-Encoding: base64\n\n{data}"


def synced(app: Flask, user: MailboxUser, raw: bytes) -> tuple[FlaskClient, int, int]:
    """Append the message to the rep's Sent folder, sync; (rep's client, email id, lead id)."""
    mailbox_id = connect(app, user)
    user.append(SENT, raw)
    assert sync(app, mailbox_id).totals()["stored"] == 1
    with read_session(app.extensions["leadsync.engine"]) as session:
        email_id = session.scalar(select(Email.id))
        lead_id = session.scalar(select(Lead.id))
    assert email_id and lead_id
    return log_in(app.test_client(), user.address), email_id, lead_id


def shown_body(client: FlaskClient, email_id: int) -> str:
    """The body document the lead page frames."""
    response = client.get(f"/emails/{email_id}/body")
    assert response.status_code == 200
    return response.data.decode()


def test_every_html_part_of_an_apple_mail_message_is_shown_in_order(
    app: Flask,
    admin,
    mailbox_user: MailboxUser,  # type: ignore[no-untyped-def]
) -> None:
    body = multipart(
        "alt",
        text_part("Primeira parte.\n\nSegunda parte."),
        "Content-Type: multipart/mixed; boundary=mix\n\n"
        + multipart(
            "mix",
            html_part("<html><body><p>Primeira parte.</p><!-- unclosed"),
            image_part("Content-Disposition: inline; filename=foto.png\n"),
            html_part("<html><body><p>Segunda parte.</p></body></html>"),
        ),
    )
    client, email_id, _ = synced(
        app,
        mailbox_user,
        message(mailbox_user.address, "multipart/alternative; boundary=alt", body),
    )
    shown = text_of(shown_body(client, email_id))
    assert "Primeira parte." in shown and "Segunda parte." in shown
    assert shown.index("Primeira parte.") < shown.index("Segunda parte.")


def test_every_plain_text_part_is_shown_when_there_is_no_html(
    app: Flask,
    admin,
    mailbox_user: MailboxUser,  # type: ignore[no-untyped-def]
) -> None:
    body = multipart(
        "mix",
        text_part("Segue a proposta."),
        image_part("Content-Disposition: inline; filename=assinatura.png\n"),
        text_part("Abraços,\nAna"),
    )
    client, email_id, _ = synced(
        app, mailbox_user, message(mailbox_user.address, "multipart/mixed; boundary=mix", body)
    )
    shown = text_of(shown_body(client, email_id))
    assert re.search(r"Segue a proposta\.\s+Abraços,\s+Ana", shown), shown
