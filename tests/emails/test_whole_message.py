"""A synced message is shown whole, through a real Dovecot's BODYSTRUCTURE: every body part in
order, every attachment listed under its own name, inline images in the body and not in the
list. Messages are written by hand, as the mail programs that send them write them."""

from __future__ import annotations

import base64
import re
from html import unescape

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


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"
MALFORMED = {
    "no subtype": "Content-Type: pdf\n"
    "Content-Disposition: attachment; filename*=UTF-8''rel%C3%A1torio.pdf\n",
    "no slash": "Content-Type: application pdf\n"
    "Content-Disposition: attachment; filename*=UTF-8''rel%C3%A1torio.pdf\n",
    "empty name": "Content-Type: application/pdf; name=\n"
    "Content-Disposition: attachment; filename*=UTF-8''rel%C3%A1torio.pdf\n",
    # the server drops every parameter of a header it cannot read: the name is in the MIME
    # header only
    "name only": 'Content-Type: pdf; name="=?UTF-8?Q?rel=C3=A1torio.pdf?="\n',
    "double semicolon": "Content-Type: application/pdf;; name*=UTF-8''rel%C3%A1torio.pdf\n",
}


def listed(client: FlaskClient, lead_id: int) -> list[tuple[str, str, str]]:
    """(name, type, download URL) of each file listed under the lead's expanded thread."""
    with read_session(client.application.extensions["leadsync.engine"]) as session:
        key = session.scalars(select(Email.thread_key)).one()
    html = client.get(
        f"/leads/{lead_id}/threads", query_string={"key": key}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    found = re.findall(
        r'<li><a href="(/attachments/\d+)" download>([^<]*)</a> <span class="hint">([^ ]+) ·',
        html,
    )
    return [(unescape(name), kind, url) for url, name, kind in found]


@pytest.mark.parametrize("headers", MALFORMED.values(), ids=MALFORMED.keys())
def test_an_attachment_with_a_malformed_content_type_is_listed_under_its_name(
    app: Flask,
    admin,
    mailbox_user: MailboxUser,
    headers: str,  # type: ignore[no-untyped-def]
) -> None:
    pdf = headers + "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PDF).decode()
    body = multipart("mix", text_part("Segue o relatório."), pdf)
    client, _, lead_id = synced(
        app, mailbox_user, message(mailbox_user.address, "multipart/mixed; boundary=mix", body)
    )
    [(name, kind, url)] = listed(client, lead_id)
    assert name == "relátorio.pdf"
    assert kind in ("application/pdf", "application/octet-stream")
    download = client.get(url)
    assert download.status_code == 200 and download.data == PDF
    assert "rel%C3%A1torio.pdf" in download.headers["Content-Disposition"]


def newsletter(sender: str) -> bytes:
    """HTML showing a logo by cid:, a second image with a Content-ID the HTML never names,
    and a PDF: Outlook's way (no Content-Disposition on the images, no names)."""
    related = multipart(
        "rel",
        html_part('<p>Olá</p><img src="cid:logo.123@acme" alt="Acme"><p>Até logo</p>'),
        image_part("Content-ID: <logo.123@acme>\n"),
        image_part("Content-ID: <spare.456@acme>\n"),
    )
    pdf = (
        "Content-Type: application/pdf; name=proposta.pdf\n"
        "Content-Disposition: attachment; filename=proposta.pdf\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PDF).decode()
    )
    body = multipart("mix", "Content-Type: multipart/related; boundary=rel\n\n" + related, pdf)
    return message(sender, "multipart/mixed; boundary=mix", body)


def test_a_cid_image_is_shown_in_the_body_not_listed_and_no_file_is_called_attachment(
    app: Flask,
    admin,
    mailbox_user: MailboxUser,  # type: ignore[no-untyped-def]
) -> None:
    client, email_id, lead_id = synced(app, mailbox_user, newsletter(mailbox_user.address))
    images = re.findall(r'<img src="(/emails/inline/[^"]+)"', shown_body(client, email_id))
    assert len(images) == 1 and app.test_client().get(images[0]).data == PNG
    files = listed(client, lead_id)
    assert [(name, kind) for name, kind, _ in files] == [
        ("imagem-1.png", "image/png"),
        ("proposta.pdf", "application/pdf"),
    ]
    spare = client.get(files[0][2])
    assert spare.data == PNG and "imagem-1.png" in spare.headers["Content-Disposition"]
    client.post("/language", data={"language": "en"})
    assert [name for name, _, _ in listed(client, lead_id)] == ["image-1.png", "proposta.pdf"]
