"""Attachment sizes on the lead page: the size of the file itself, in the viewer's language."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.mail.mime import decoded_size
from dashboard.models import Email
from dashboard.web.numbers import format_size, size_parts
from tests.support.clients import log_in
from tests.support.leads import HTMX, text_of
from tests.support.sync import L1, LEADS, STORED, MailMaker, append_mails, connect, make_lead, sync

LEAD = LEADS[L1][0]
FILE_SIZE = 1_500_000  # about 2.05 MB once base64-encoded for the trip


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test CA, as an operator would set IMAP_CA_FILE."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def synced(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A lead's email carrying a 1,500,000-byte PDF, synced from a real Dovecot."""
    mailbox_id = connect(app, mailbox_user)
    lead_id = make_lead(app.extensions["leadsync.engine"], L1, LEAD)
    data = random.Random(7).randbytes(FILE_SIZE)  # incompressible, as a real PDF
    mail = MailMaker(mailbox_user.address).message(
        "big", sender=LEAD, to=[mailbox_user.address], fate=STORED, text="Segue.\n",
        attachments=[("proposta.pdf", "application/pdf", data)],
    )  # fmt: skip
    append_mails(mailbox_user, [mail])
    assert sync(app, mailbox_id).error_code is None
    return SimpleNamespace(owner=mailbox_user.address, lead_id=lead_id)


def attachment_line(app, synced, language: str) -> str:  # type: ignore[no-untyped-def]
    """The text of the attachment's line in the expanded thread, seen by the mailbox owner."""
    client = log_in(app.test_client(), synced.owner)
    client.post("/language", data={"language": language})
    with read_session(app.extensions["leadsync.engine"]) as session:
        key = session.scalars(select(Email.thread_key)).one()
    response = client.get(
        f"/leads/{synced.lead_id}/threads", query_string={"key": key}, headers=HTMX
    )
    html = response.get_data(as_text=True)
    return text_of(html.split('<ul class="attachments">')[1].split("</ul>")[0])


def test_a_synced_attachment_shows_its_own_size_with_a_decimal_comma_in_portuguese(app, synced):
    assert attachment_line(app, synced, "pt_BR") == "proposta.pdf application/pdf · 1,5 MB"


def test_a_synced_attachment_shows_its_own_size_with_a_decimal_point_in_english(app, synced):
    assert attachment_line(app, synced, "en") == "proposta.pdf application/pdf · 1.5 MB"


@pytest.mark.parametrize(
    ("size", "encoding", "decoded"),
    [
        (0, "base64", 0),
        (78, "base64", 57),  # one full line: 76 characters + CRLF
        (78 * 10 + 6, "BASE64", 570 + 3),  # ten lines and a last one of 4 characters
        (2_052_632, "base64", 1_500_000),  # the test PDF above: 26,316 lines
        (1234, "quoted-printable", 1234),  # cannot be told without the bytes
        (1234, "7bit", 1234),
        (-1, "base64", 0),
    ],
)
def test_the_decoded_size_is_told_from_the_size_as_sent(size, encoding, decoded):
    assert abs(decoded_size(size, encoding) - decoded) <= 2


@pytest.mark.parametrize(
    ("octets", "parts"),
    [(0, (0, "")), (999, (999, "")), (1000, (1, "kB")), (1_500_000, (1.5, "MB")),
     (3_000_000_000, (3, "GB"))],
)  # fmt: skip
def test_a_size_is_told_in_the_largest_unit_it_reaches(octets, parts):
    assert size_parts(octets) == parts


@pytest.mark.parametrize(
    ("language", "octets", "shown"),
    [("pt_BR", 1, "1 byte"), ("pt_BR", 532, "532 bytes"), ("en", 532, "532 bytes"),
     ("pt_BR", 2048, "2 kB"), ("pt_BR", 1_250_000, "1,2 MB"), ("en", 1_250_000, "1.2 MB"),
     ("pt_BR", 12_345_678_901, "12,3 GB")],
)  # fmt: skip
def test_a_size_is_written_in_the_viewers_language(app, language, octets, shown):
    with app.test_request_context(), force_locale(language):
        assert format_size(octets) == shown
