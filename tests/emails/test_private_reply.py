"""A rep's own reply inside a thread a teammate marked private, synced from a real Dovecot:
the timeline, the body route, the frame, its inline image and the attachment download all let
the rep read it, and all keep the teammate's message of that thread hidden."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Attachment, Email, User
from tests.support.clients import log_in
from tests.support.lead_data import lead_data, set_company
from tests.support.leads import HTMX, page
from tests.support.servers.dovecot import DovecotServer, MailboxUser
from tests.support.sync import connect, sync

SENT = "[Gmail]/E-mails enviados"
QUOTE = b"%PDF-1.4 the rep's own price list"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def app_config(dovecot_server: DovecotServer) -> dict:
    """Trust the test Dovecot's CA; English pages."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file, "LANGUAGES": ("en", "pt_BR")}


def reply_with_quote(sender: str, to: str, parent: str) -> bytes:
    """The rep's answer to `parent`: HTML with an inline logo, and a PDF attached."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: Price"
    message["Date"], message["Message-ID"] = formatdate(), make_msgid(domain="acme.test")
    message["In-Reply-To"] = message["References"] = parent
    message.set_content("Here is my quote.")
    message.add_alternative('<p>Here is my quote. <img src="cid:logo@acme" alt="logo"></p>',
                            subtype="html")  # fmt: skip
    message.get_payload()[1].add_related(PNG, maintype="image", subtype="png", cid="<logo@acme>")
    message.add_attachment(QUOTE, maintype="application", subtype="pdf", filename="quote.pdf")
    return message.as_bytes()


def test_own_reply_in_a_teammates_private_thread_opens_everywhere(
    app: Flask, engine: Engine, admin: User, teammate: User, mailbox_user: MailboxUser
) -> None:
    set_company(engine, visibility="metadata")
    with lead_data(engine) as data:
        lead = data.lead(name="Buyer", addresses=["buyer@client.test"], owner=teammate)
        (theirs,) = data.thread(
            lead, rep=teammate, messages=1, subject="Price", body_text="Teammate only."
        )
    teammate_client = log_in(app.test_client(), teammate.email)
    marked = teammate_client.post(f"/leads/{lead.id}/private", data={"key": theirs.thread_key})
    assert marked.status_code == 302

    mailbox_id = connect(app, mailbox_user)
    mailbox_user.append(SENT, reply_with_quote(mailbox_user.address, "buyer@client.test",
                                               theirs.message_id))  # fmt: skip
    assert sync(app, mailbox_id).totals()["stored"] == 1
    with read_session(engine) as session:
        reply = session.scalar(select(Email).where(Email.id != theirs.id))
        quote = session.scalar(
            select(Attachment.id).where(
                Attachment.email_id == reply.id, Attachment.filename == "quote.pdf"
            )
        )
    assert reply.thread_key == theirs.thread_key  # the reply joined the private thread

    rep_client = log_in(app.test_client(), mailbox_user.address)
    thread = page(rep_client, f"/leads/{lead.id}/threads",
                  query_string={"key": theirs.thread_key}, headers=HTMX)  # fmt: skip
    assert f"/emails/{reply.id}/body" in thread and f'href="/attachments/{quote}"' in thread
    assert f"/emails/{theirs.id}/body" not in thread and "Teammate only." not in thread

    body = rep_client.get(f"/emails/{reply.id}/body")
    assert body.status_code == 200 and "Here is my quote." in body.get_data(as_text=True)
    frame = rep_client.get(f"/emails/{reply.id}/frame", headers=HTMX)
    assert frame.status_code == 200
    assert re.search(rf'src="/emails/{reply.id}/body"', frame.get_data(as_text=True))
    download = rep_client.get(f"/attachments/{quote}")
    assert download.status_code == 200 and download.data == QUOTE
    (logo,) = re.findall(r'src="(/emails/inline/[^"]+)"', body.get_data(as_text=True))
    image = app.test_client().get(logo)  # the sandboxed frame sends no cookies
    assert image.status_code == 200 and image.data == PNG

    assert rep_client.get(f"/emails/{theirs.id}/body").status_code == 403
    assert rep_client.get(f"/emails/{theirs.id}/frame", headers=HTMX).status_code == 403

    with write_session(engine) as session:  # a deactivated rep's signed URLs open nothing
        session.scalar(select(User).where(User.email == mailbox_user.address)).active = False
    assert app.test_client().get(logo).status_code == 404
