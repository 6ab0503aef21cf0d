"""Smart emails end to end: compose, deliver through real aiosmtpd, sync the Sent copy, track."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select

from dashboard.db.engine import read_session, write_session
from dashboard.leads.access import Access
from dashboard.leads.access_queries import access_to, viewer_of
from dashboard.leads.queries import badge
from dashboard.mailboxes.service import ConnectionRequest, connect_mailbox
from dashboard.models import (
    Email,
    EmailLead,
    EmailTemplate,
    Lead,
    Mailbox,
    Notification,
    OutgoingEmail,
    Sighting,
    TrackedLink,
    TrackingEvent,
    User,
    utcnow,
)
from dashboard.sending import compose as compose_module
from dashboard.sending.compose import ComposeError
from dashboard.sending.delivery import deliver, retry
from dashboard.sending.events import record_event, tracked_link
from dashboard.sending.outgoing import create_outgoing
from dashboard.sending.queue import SendQueue
from dashboard.sending.tracking import TrackingTokens
from dashboard.sync.runner import RunOptions, run_mailbox
from dashboard.sync.store.leads import refresh_stats
from tests.support import factories
from tests.support.sending import connect_smtp, make_lead
from tests.support.servers.dovecot import new_user
from tests.support.sync import set_company, sync

if TYPE_CHECKING:  # imported by pytest as a plugin, so its asserts are rewritten
    from tests.support.servers.dovecot import DovecotServer, MailboxUser
    from tests.support.servers.smtp import SmtpServer

pytest_plugins = ["tests.support.servers.smtp"]

SENT = "[Gmail]/E-mails enviados"
PUBLIC = "https://leadsync.example.com"


# --- helpers ----------------------------------------------------------------------------


def sign(engine: Engine, user: User, signature: str) -> User:
    """Give a user a signature; return the fresh row."""
    with write_session(engine) as session:
        session.get(User, user.id).signature = signature
    with read_session(engine) as session:
        return session.get(User, user.id)


def compose(engine: Engine, user: User, lead: Lead | None, to: list[str], **overrides) -> int:  # type: ignore[no-untyped-def]
    """Store a smart email as the compose form will; returns the OutgoingEmail id."""
    values: dict = {
        "cc": [], "bcc": [], "subject": "Proposta", "body": "Olá!", "reply_to_email": None,
        "template": None, "tracking": False, "public_url": None,
    }  # fmt: skip
    values.update(overrides)
    with write_session(engine) as session:
        return create_outgoing(session, user=user, lead=lead, to=to, **values).id


def send_now(app: Flask, outgoing_id: int, server: SmtpServer, public_url: str | None = None):  # type: ignore[no-untyped-def]
    """Deliver in this thread, trusting the test server's CA."""
    deliver(
        app.extensions["leadsync.engine"], outgoing_id, app.extensions["leadsync.secrets"],
        ca_file=server.ca_file, public_url=public_url, secret_key=app.secret_key,
    )  # fmt: skip


def outgoing_row(engine: Engine, outgoing_id: int) -> OutgoingEmail:
    """A fresh copy of an outgoing email."""
    with read_session(engine) as session:
        return session.get(OutgoingEmail, outgoing_id)


def emails_with(engine: Engine, message_id: str) -> list[Email]:
    """Every Email row with that Message-ID."""
    with read_session(engine) as session:
        return list(session.scalars(select(Email).where(Email.message_id == message_id)))


def count(engine: Engine, model: type, *where) -> int:  # type: ignore[no-untyped-def]
    """How many rows of a table match."""
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def html_of(server: SmtpServer) -> str:
    """The HTML part of the last message the server accepted."""
    message = email.message_from_bytes(server.messages[-1].content, policy=email.policy.default)
    return message.get_body(("html",)).get_content()


# --- delivery ---------------------------------------------------------------------------


def test_queued_email_is_sent_and_stored_once_as_smart_email(app, engine, rep, smtp_server):
    user = sign(engine, rep, "{{ rep_name }}\nAcme Vendas")
    lead, address = make_lead(engine, "Ana Souza", "Cliente SA")
    connect_smtp(app, user, smtp_server)
    with write_session(engine) as session:
        template = EmailTemplate(
            name=f"Primeiro contato {factories.next_number()}",
            subject="Proposta para {{company}}", body="Oi {{ first_name }}, tudo bem?",
        )  # fmt: skip
        session.add(template)
    outgoing_id = compose(engine, user, lead, [address], subject="", body="", template=template)
    queue = SendQueue(
        engine, app.extensions["leadsync.secrets"], ca_file=smtp_server.ca_file,
        public_url=None, secret_key=app.secret_key,
    )  # fmt: skip
    queue.submit(outgoing_id).result(timeout=30)
    queue.shutdown()

    outgoing = outgoing_row(engine, outgoing_id)
    assert (outgoing.state, outgoing.attempts, outgoing.error_code) == ("sent", 1, None)
    assert outgoing.subject == "Proposta para Cliente SA"
    assert outgoing.body == f"Oi Ana, tudo bem?\n\n-- \n{user.name}\nAcme Vendas"
    (stored,) = emails_with(engine, outgoing.message_id)
    assert stored.id == outgoing.email_id
    assert (stored.origin, stored.direction) == ("smart", "out")
    assert stored.sender == smtp_server.username.lower()
    assert stored.thread_key == outgoing.message_id and stored.user_id == user.id
    assert stored.subject == "Proposta para Cliente SA" and "Oi Ana" in stored.body_text
    assert count(engine, EmailLead, EmailLead.email_id == stored.id) == 1
    assert count(engine, EmailLead, EmailLead.lead_id == lead.id) == 1
    assert count(engine, Sighting, Sighting.email_id == stored.id) == 0
    (message,) = smtp_server.messages
    assert f"Message-ID: {outgoing.message_id}".encode() in message.content
    assert message.rcpt_tos == (address,)


def test_auth_failure_keeps_the_draft_and_retry_after_fixing_the_password_sends(
    app, engine, rep, smtp_server
):
    user = rep
    lead, address = make_lead(engine, "Bruno Lima")
    wrong = "not-the-app-password"
    mailbox_id = connect_smtp(app, user, smtp_server, password=wrong)
    outgoing_id = compose(engine, user, lead, [address], body="Texto **importante**")
    box = app.extensions["leadsync.secrets"]

    send_now(app, outgoing_id, smtp_server)

    failed = outgoing_row(engine, outgoing_id)
    assert (failed.state, failed.error_code, failed.attempts) == ("failed", "auth_failed", 1)
    assert "535" in failed.error_detail and wrong not in failed.error_detail
    assert failed.body == "Texto **importante**" and failed.email_id is None
    assert smtp_server.messages == [] and emails_with(engine, failed.message_id) == []

    with write_session(engine) as session:
        session.get(Mailbox, mailbox_id).secret = box.encrypt(smtp_server.password)
    options = {"ca_file": smtp_server.ca_file, "public_url": None, "secret_key": app.secret_key}
    assert retry(engine, outgoing_id, box, **options) is True

    sent = outgoing_row(engine, outgoing_id)
    assert (sent.state, sent.error_code, sent.error_detail, sent.attempts) == ("sent", None, "", 2)
    assert sent.message_id == failed.message_id and len(smtp_server.messages) == 1
    assert len(emails_with(engine, sent.message_id)) == 1
    assert retry(engine, outgoing_id, box, **options) is False  # sent emails are not resent
    assert len(smtp_server.messages) == 1


def test_sent_copy_found_by_sync_in_sent_folder_stays_one_email(
    app, engine, rep, make_smtp_server, mailbox_user: MailboxUser, dovecot_server: DovecotServer
):
    server = make_smtp_server(username=mailbox_user.address, password=mailbox_user.password)
    user = rep
    lead, address = make_lead(engine, "Carla Dias")
    mailbox_id = connect_smtp(app, user, server)
    outgoing_id = compose(engine, user, lead, [address])
    send_now(app, outgoing_id, server)
    message_id = outgoing_row(engine, outgoing_id).message_id
    (before,) = emails_with(engine, message_id)

    mailbox_user.append(SENT, server.messages[0].content)  # what the provider keeps in Sent
    with write_session(engine) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        mailbox.imap_port, mailbox.folders = dovecot_server.port, ["INBOX", SENT]
    result = run_mailbox(
        engine, mailbox_id, app.extensions["leadsync.secrets"],
        RunOptions(ca_file=dovecot_server.ca_file, connections=1, timeout=10.0),
    )  # fmt: skip

    assert result.error_code is None, result.error
    (after,) = emails_with(engine, message_id)
    assert after.id == before.id and after.origin == "smart"
    assert count(engine, Sighting, Sighting.email_id == after.id, Sighting.folder == SENT) == 1
    assert count(engine, EmailLead, EmailLead.email_id == after.id) == 1


def lead_row(engine: Engine, lead_id: int) -> Lead:
    """A fresh copy of a lead (its email summaries)."""
    with read_session(engine) as session:
        return session.get(Lead, lead_id)


def receive_from(engine: Engine, lead: Lead, address: str, user: User) -> Email:
    """A question from the lead, stored and summarised as the sync stores it."""
    with write_session(engine) as session:
        question = Email(
            message_id=f"<pergunta-{factories.next_number()}@cliente.test>", sender=address,
            thread_key=f"t{factories.next_number()}", subject="Pergunta", direction="in",
            date=utcnow() - timedelta(hours=2), user_id=user.id,
        )  # fmt: skip
        session.add(question)
        session.flush()
        session.add(EmailLead(email_id=question.id, lead_id=lead.id))
        refresh_stats(session, [lead.id])
        return question


def test_lead_is_current_the_moment_smtp_accepts_and_the_sent_copy_changes_no_count(
    app, engine, rep, make_smtp_server, mailbox_user: MailboxUser, dovecot_server: DovecotServer
):
    server = make_smtp_server(username=mailbox_user.address, password=mailbox_user.password)
    lead, address = make_lead(engine, "Gil Prado")
    receive_from(engine, lead, address, rep)
    before = lead_row(engine, lead.id)
    assert (before.email_count, before.last_direction) == (1, "in")
    assert badge(before, utcnow(), 7) == "reply"
    mailbox_id = connect_smtp(app, rep, server)
    outgoing_id = compose(engine, rep, lead, [address])

    send_now(app, outgoing_id, server)  # aiosmtpd keeps no Sent copy anywhere

    (stored,) = emails_with(engine, outgoing_row(engine, outgoing_id).message_id)
    sent = lead_row(engine, lead.id)
    assert (sent.email_count, sent.last_direction) == (2, "out")
    assert (sent.last_contact_at, sent.last_contact_user_id) == (stored.date, rep.id)
    assert sent.first_contact_at == before.first_contact_at
    assert badge(sent, utcnow(), 7) == ""  # answered: no longer "to answer"

    mailbox_user.append(SENT, server.messages[0].content)  # now the provider's Sent copy
    with write_session(engine) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        mailbox.imap_port, mailbox.folders = dovecot_server.port, ["INBOX", SENT]
    result = run_mailbox(
        engine, mailbox_id, app.extensions["leadsync.secrets"],
        RunOptions(ca_file=dovecot_server.ca_file, connections=1, timeout=10.0),
    )  # fmt: skip

    assert result.error_code is None, result.error
    (synced,) = emails_with(engine, stored.message_id)
    assert (synced.id, synced.origin, synced.user_id) == (stored.id, "smart", rep.id)
    assert count(engine, Sighting, Sighting.email_id == stored.id, Sighting.folder == SENT) == 1
    after = lead_row(engine, lead.id)
    assert (after.email_count, after.last_contact_at, after.last_direction) == (
        2, sent.last_contact_at, "out",
    )  # fmt: skip
    assert count(engine, EmailLead, EmailLead.lead_id == lead.id) == 2


def connect_imap(app: Flask, user: User, box: MailboxUser) -> int:
    """Connect a user's Dovecot mailbox for real, sync only; returns the mailbox id."""
    request = ConnectionRequest(
        "other", box.address, box.password, "", box.server.host, box.server.port, "tls"
    )
    with write_session(app.extensions["leadsync.engine"]) as session:
        return connect_mailbox(
            session, user=user, request=request, box=app.extensions["leadsync.secrets"],
            ca_file=box.server.ca_file, timeout=10.0,
        ).id  # fmt: skip


class SendClock(datetime):
    """compose's clock stopped at one second: the teammate's copy, written before the send,
    carries the Date header the message is then sent with (as a real copy does)."""

    instant = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
        """The stopped instant."""
        return cls.instant


def test_a_copy_a_teammate_synced_first_becomes_the_senders_own_smart_email(
    app, engine, rep, teammate, make_smtp_server, mailbox_user: MailboxUser,
    dovecot_server: DovecotServer, monkeypatch,
):  # fmt: skip
    monkeypatch.setattr(compose_module, "datetime", SendClock)
    server = make_smtp_server(username=mailbox_user.address, password=mailbox_user.password)
    set_company(engine, visibility="metadata")
    teammate_box = new_user(dovecot_server)
    teammate_mailbox = connect_imap(app, teammate, teammate_box)
    lead, address = make_lead(engine, "Helena Cruz")
    connect_smtp(app, rep, server)
    outgoing_id = compose(engine, rep, lead, [address], cc=[teammate_box.address])
    message_id = outgoing_row(engine, outgoing_id).message_id
    copy = EmailMessage()  # what reaches the teammate's inbox before LeadSync records the send
    copy["From"], copy["To"], copy["Cc"] = mailbox_user.address, address, teammate_box.address
    copy["Subject"], copy["Message-ID"], copy["Date"] = (
        "Proposta",
        message_id,
        format_datetime(SendClock.instant),
    )
    copy.set_content("Olá!")
    teammate_box.append("INBOX", copy.as_bytes())
    assert sync(app, teammate_mailbox, ca_file=dovecot_server.ca_file).error_code is None
    (first,) = emails_with(engine, message_id)
    assert first.user_id != rep.id

    send_now(app, outgoing_id, server)

    (adopted,) = emails_with(engine, message_id)
    assert adopted.id == first.id == outgoing_row(engine, outgoing_id).email_id
    assert (adopted.origin, adopted.direction, adopted.user_id) == ("smart", "out", rep.id)
    with read_session(engine) as session:
        assert access_to(session, viewer_of(rep), adopted) is Access.FULL
        assert access_to(session, viewer_of(teammate), adopted) is Access.FULL  # in its inbox
    assert (lead_row(engine, lead.id).email_count, lead_row(engine, lead.id).last_direction) == (
        1, "out",
    )  # fmt: skip


def test_reply_threads_with_the_replied_email(app, engine, rep, smtp_server):
    user = rep
    lead, address = make_lead(engine, "Davi Reis")
    connect_smtp(app, user, smtp_server)
    with write_session(engine) as session:
        replied = Email(
            message_id="<pergunta-1@cliente.test>", sender=address, thread_key="gm:77",
            subject="Dúvida sobre o preço", date=utcnow(), direction="in",
            references=["<inicio@acme.test>"],
        )  # fmt: skip
        session.add(replied)
    outgoing_id = compose(engine, user, lead, [address], subject="", reply_to_email=replied)
    send_now(app, outgoing_id, smtp_server)

    outgoing = outgoing_row(engine, outgoing_id)
    assert outgoing.subject == "Re: Dúvida sobre o preço"
    assert outgoing.in_reply_to == "<pergunta-1@cliente.test>"
    assert outgoing.references == ["<inicio@acme.test>", "<pergunta-1@cliente.test>"]
    (stored,) = emails_with(engine, outgoing.message_id)
    assert stored.thread_key == "gm:77" and stored.in_reply_to == replied.message_id


def test_compose_refuses_bad_addresses_and_a_missing_mailbox(app, engine, rep, smtp_server):
    user = rep
    lead, address = make_lead(engine, "Eva Melo")
    with pytest.raises(ComposeError) as caught:
        compose(engine, user, lead, [address])
    assert caught.value.code == "no_mailbox"
    connect_smtp(app, user, smtp_server)
    for to, code in (([], "no_recipients"), (["não é endereço"], "invalid_address")):
        with pytest.raises(ComposeError) as caught:
            compose(engine, user, lead, to)
        assert caught.value.code == code
    outgoing_id = compose(
        engine, user, lead, [address.upper()], cc=[address, "x@y.test"], bcc=["x@y.test"],
        tracking=True, public_url=None,
    )  # fmt: skip
    outgoing = outgoing_row(engine, outgoing_id)
    assert (outgoing.to_addrs, outgoing.cc_addrs, outgoing.bcc_addrs) == (
        [address], ["x@y.test"], [],
    )  # fmt: skip
    assert outgoing.tracking is False  # impossible without a public URL


# --- tracking ---------------------------------------------------------------------------


def test_tracked_email_has_signed_pixel_and_links_that_count_opens_and_clicks(
    app, engine, rep, smtp_server
):
    user = rep
    lead, address = make_lead(engine, "Fabio Luz")
    connect_smtp(app, user, smtp_server)
    body = "Veja https://cliente.test/a e https://cliente.test/b?x=1&y=2"
    outgoing_id = compose(
        engine, user, lead, [address, "socio@cliente.test"], body=body, tracking=True,
        public_url=PUBLIC,
    )  # fmt: skip
    send_now(app, outgoing_id, smtp_server, public_url=PUBLIC)
    html = html_of(smtp_server)
    tokens = TrackingTokens(app.secret_key)

    (open_token,) = re.findall(rf'src="{PUBLIC}/t/o/([^"]+)\.gif"', html)
    click_tokens = re.findall(rf'href="{PUBLIC}/t/c/([^"]+)"', html)
    opened = tokens.read_token(open_token, "open")
    assert (opened.outgoing_id, opened.recipient) == (outgoing_id, address)
    with read_session(engine) as session:
        links = [tracked_link(session, tokens.read_token(t, "click")) for t in click_tokens]
        assert [link.url for link in links] == [
            "https://cliente.test/a", "https://cliente.test/b?x=1&y=2",
        ]  # fmt: skip
    assert count(engine, TrackedLink, TrackedLink.outgoing_id == outgoing_id) == 2

    with write_session(engine) as session:
        assert record_event(session, opened, "open", own_session=True) is None
        assert record_event(session, opened, "open", own_session=False) is not None
        assert record_event(session, opened, "open", own_session=False) is not None
        assert record_event(session, opened, "click", own_session=False) is None  # wrong kind
        click = tokens.read_token(click_tokens[1], "click")
        assert record_event(session, click, "click", own_session=False).link_id == links[1].id
    assert count(engine, TrackingEvent, TrackingEvent.kind == "open") == 2
    assert count(engine, TrackingEvent, TrackingEvent.kind == "click") == 1
    with read_session(engine) as session:
        notes = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.kind, n.user_id, n.lead_id, n.detail) for n in notes] == [
        ("open", user.id, lead.id, address),
        ("click", user.id, lead.id, "https://cliente.test/b?x=1&y=2"),
    ]
    assert all(n.email_id == outgoing_row(engine, outgoing_id).email_id for n in notes)


def test_tampered_or_foreign_tokens_read_as_nothing(app, engine):
    tokens = TrackingTokens(app.secret_key)
    good = tokens.click_token(7, 3, "ana@cliente.test")
    assert tokens.read_token(good, "click").link_id == 3
    flipped = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    assert tokens.read_token(flipped, "click") is None
    assert tokens.read_token(good, "open") is None
    assert tokens.read_token(tokens.open_token(7, "ana@cliente.test"), "click") is None
    assert TrackingTokens("another-secret").read_token(good, "click") is None
    assert tokens.read_token("", "open") is None and tokens.read_token("x.y", "open") is None
    forged = TrackingTokens(app.secret_key)._serializer.dumps(["c", 7, "a@b.c", "3"])
    assert tokens.read_token(forged, "click") is None  # signed but malformed
    with read_session(engine) as session:
        assert tracked_link(session, tokens.read_token(good, "click")) is None  # no such link
