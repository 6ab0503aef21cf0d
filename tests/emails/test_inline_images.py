"""Inline (cid:) images of a sandboxed body load through signed, short-lived URLs: the frame's
opaque origin sends no session cookie, so the signature is the permission."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email
from tests.support.clients import log_in
from tests.support.sync import connect, sync

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def newsletter_with_logo(sender: str) -> bytes:
    """An HTML email whose logo is an inline image referenced by cid:, plus an SVG that
    pretends to be inline too."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "lead@client.test", "Logo"
    message["Date"], message["Message-ID"] = formatdate(), make_msgid()
    message.set_content("Olá")
    message.add_alternative(
        '<p>Olá <img src="cid:logo@x" alt="logo"><img src="cid:vector@x" alt="svg"></p>',
        subtype="html",
    )
    html_part = message.get_payload()[1]
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<logo@x>")
    html_part.add_related(
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        maintype="image",
        subtype="svg+xml",
        cid="<vector@x>",
    )
    return message.as_bytes()


def test_inline_images_load_by_signed_url_only(app, engine, admin, mailbox_user) -> None:  # type: ignore[no-untyped-def]
    mailbox_id = connect(app, mailbox_user)
    mailbox_user.append("[Gmail]/E-mails enviados", newsletter_with_logo(mailbox_user.address))
    assert sync(app, mailbox_id).totals()["stored"] == 1
    with read_session(engine) as session:
        email_id = session.scalar(select(Email.id))
    client = log_in(app.test_client(), mailbox_user.address)
    body = client.get(f"/emails/{email_id}/body").data.decode()
    urls = re.findall(r'src="(/emails/inline/[^"]+)"', body)
    assert len(urls) == 1  # the PNG; the SVG is never served as an image
    anonymous = app.test_client()  # what the sandboxed frame is: no cookies
    image = anonymous.get(urls[0])
    assert image.status_code == 200 and image.data == PNG
    assert image.mimetype == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert anonymous.get(urls[0][:-4] + "AAAA").status_code == 404  # tampered
    assert anonymous.get("/emails/inline/not-a-token").status_code == 404
