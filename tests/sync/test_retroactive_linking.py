"""Retroactive linking end to end: a skipped "no lead" email is linked once its lead exists.

Real Dovecot, the real CLI (`accounts add`, `sync --once`) and the real lead form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email, EmailLead, Lead, SkippedMessage
from tests.support.leads import ENGLISH, listed_ids, page, thread_subjects
from tests.support.mailboxes import add_account

STRANGER = "Stranger.Prospect@prospect.test"
SUBJECT = "Orçamento para 40 licenças"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA; English pages."""
    return {**ENGLISH, "IMAP_CA_FILE": dovecot_server.ca_file}


def inbound_message(to: str, sender: str = STRANGER) -> bytes:
    """A first email from someone who is not a lead yet (policy "sent": no lead is created)."""
    message = EmailMessage()
    message["From"] = f"Stella Prospect <{sender}>"
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(datetime.now(UTC) - timedelta(days=2))
    message["Message-ID"] = make_msgid(domain="prospect.test")
    message.set_content("Olá! Podemos conversar sobre a sincronização?\n")
    return message.as_bytes()


def sync_once(app) -> str:  # type: ignore[no-untyped-def]
    """Run `flask sync --once`; it must succeed."""
    result = app.test_cli_runner().invoke(args=["sync", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def skips(engine) -> list[tuple[str, bool, list[str]]]:  # type: ignore[no-untyped-def]
    """(reason, relink, addresses) of every skip ledger row."""
    with read_session(engine) as session:
        rows = session.scalars(select(SkippedMessage)).all()
        return [(r.reason, r.relink, list(r.addresses)) for r in rows]


def test_an_email_skipped_for_no_lead_is_linked_after_the_rep_creates_the_lead(
    app, engine, rep, rep_client, mailbox_user
):
    mailbox_user.append("INBOX", inbound_message(mailbox_user.address))
    assert add_account(app, rep.email, mailbox_user).exit_code == 0

    first = sync_once(app)
    assert "no_lead=1" in first
    assert skips(engine) == [("no_lead", False, [STRANGER.lower()])]
    with read_session(engine) as session:
        assert session.scalars(select(Email)).all() == []

    response = rep_client.post(
        "/leads/new",
        data={"name": "Stella", "addresses": STRANGER, "company": "", "phone": "", "owner": "0"},
    )
    assert response.status_code == 302
    assert skips(engine) == [("no_lead", True, [STRANGER.lower()])]

    second = sync_once(app)
    assert "stored=1" in second, second
    assert skips(engine) == []
    with read_session(engine) as session:
        lead = session.scalars(select(Lead)).one()
        (email,) = session.scalars(select(Email)).all()
        links = session.scalars(select(EmailLead.lead_id).where(EmailLead.email_id == email.id))
        assert list(links) == [lead.id]
        assert (email.subject, email.direction, email.user_id) == (SUBJECT, "in", rep.id)
        assert (lead.email_count, lead.last_direction) == (1, "in")

    html = page(rep_client, f"/leads/{lead.id}")
    assert thread_subjects(html) == [SUBJECT]
    assert "to answer" in html
    assert listed_ids(page(rep_client, "/leads/?q=sincronizacao")) == [lead.id]  # body indexed

    third = sync_once(app)  # nothing left to relink, nothing stored twice
    assert "stored=0" in third or "stored" not in third
    with read_session(engine) as session:
        assert len(session.scalars(select(Email)).all()) == 1


@pytest.mark.parametrize(
    ("typed", "sender"),
    [
        ("Stella+CRM@prospect.test", "stella@prospect.test"),  # the tag typed on the form
        ("stella@prospect.test", "Stella+news@prospect.test"),  # the tag in the mail
        ("stella+crm@prospect.test", "stella+crm@prospect.test"),  # the same tag in both
    ],
)
def test_a_lead_typed_with_or_without_a_plus_tag_gets_the_persons_mail(
    app, engine, rep, rep_client, mailbox_user, typed, sender
):
    """A lead's address is stored as the person (mail/addresses.canonical_address), the form
    the sync looks leads up by: a "+tag" on either side does not hide the mail."""
    mailbox_user.append("INBOX", inbound_message(mailbox_user.address, sender))
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    response = rep_client.post(
        "/leads/new",
        data={"name": "Stella", "addresses": typed, "company": "", "phone": "", "owner": "0"},
    )
    assert response.status_code == 302

    assert "stored=1" in sync_once(app)
    with read_session(engine) as session:
        lead = session.scalars(select(Lead)).one()
        (email,) = session.scalars(select(Email)).all()
        links = session.scalars(select(EmailLead.lead_id).where(EmailLead.email_id == email.id))
        assert list(links) == [lead.id]
        assert lead.email_count == 1
    assert "stella@prospect.test" in page(rep_client, f"/leads/{lead.id}")
