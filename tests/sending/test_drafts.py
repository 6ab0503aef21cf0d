"""A failed smart email is a draft: edited back in the compose card and sent once in its
place (a reply stays in its thread), or discarded; never someone else's, never a sent one."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Lead, Mailbox, OutgoingEmail, User
from dashboard.states import OutgoingState
from tests.support import factories
from tests.support.clients import log_in
from tests.support.lead_data import lead_data
from tests.support.leads import HTMX, page
from tests.support.sending import connect_smtp, form_fields
from tests.support.servers.smtp import SmtpServer

SIGNATURE = "Rui Costa\nAcme"


@pytest.fixture
def app_config(smtp_server: SmtpServer) -> dict:
    """Trust the test SMTP server's CA; English labels."""
    return {"IMAP_CA_FILE": smtp_server.ca_file, "LANGUAGES": ("en", "pt_BR")}


@pytest.fixture
def mailbox_id(app: Flask, engine: Engine, rep: User, smtp_server: SmtpServer) -> int:
    """The rep signs emails and their mailbox has a wrong password: sending fails."""
    with write_session(engine) as session:
        session.get(User, rep.id).signature = SIGNATURE
    return connect_smtp(app, rep, smtp_server, password="wrong-password-x")


def fix_password(app: Flask, mailbox_id: int, smtp_server: SmtpServer) -> None:
    """The rep reconnects the mailbox with the right password."""
    with write_session(app.extensions["leadsync.engine"]) as session:
        session.get(Mailbox, mailbox_id).secret = app.extensions["leadsync.secrets"].encrypt(
            smtp_server.password
        )


def failed_reply(app: Flask, engine: Engine, rep: User, client) -> tuple[Lead, int, str]:  # type: ignore[no-untyped-def]
    """A reply to the lead's email that failed to leave; the lead, its id, the thread key."""
    with lead_data(engine) as data:
        lead = data.lead(name="Joana Silva", addresses=["joana@cliente.test"])
        (received,) = data.thread(lead, rep=rep, messages=1, subject="Orçamento")
    fields = form_fields(page(client, f"/leads/{lead.id}/compose?reply={received.id}",
                              headers=HTMX))  # fmt: skip
    fields.update(cc="chefe@cliente.test", body="Segue o orçamento, {{ primeiro_nome }}.")
    response = client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    outgoing_id = int(re.search(r'id="outgoing-(\d+)"', response.get_data(as_text=True))[1])
    with read_session(engine) as session:
        assert session.get(OutgoingEmail, outgoing_id).state == OutgoingState.FAILED
    return lead, outgoing_id, received.message_id


def test_a_failed_reply_is_edited_and_sent_once_in_its_place(
    app, engine, rep, rep_client, mailbox_id, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, failed_id, replied = failed_reply(app, engine, rep, rep_client)
    status = page(rep_client, f"/outgoing/{failed_id}", headers=HTMX)
    assert f"/leads/{lead.id}/compose?draft={failed_id}" in status and "/discard" in status
    fields = form_fields(page(rep_client, f"/leads/{lead.id}/compose?draft={failed_id}",
                              headers=HTMX))  # fmt: skip
    assert fields["draft"] == str(failed_id) and fields["reply_to"]
    assert (fields["to"], fields["cc"]) == ("joana@cliente.test", "chefe@cliente.test")
    assert fields["subject"] == "Re: Orçamento"
    assert fields["body"] == "Segue o orçamento, Joana."  # the signature is added again
    fix_password(app, mailbox_id, smtp_server)
    fields["body"] += "\n\nAbraço"
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 200
    assert f'id="outgoing-{failed_id}" hx-swap-oob="delete"' in response.get_data(as_text=True)
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    (received,) = smtp_server.messages
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == f"Segue o orçamento, Joana.\n\nAbraço\n\n-- \n{SIGNATURE}\n"
    assert message["In-Reply-To"] == replied and message["Cc"] == "chefe@cliente.test"
    with read_session(engine) as session:
        states = list(session.scalars(select(OutgoingEmail.state)))
    assert states == [OutgoingState.SENT]  # the failed one is gone, not kept beside it


def test_a_draft_retried_meanwhile_is_not_sent_twice(
    app, engine, rep, rep_client, mailbox_id, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, failed_id, _ = failed_reply(app, engine, rep, rep_client)
    fields = form_fields(page(rep_client, f"/leads/{lead.id}/compose?draft={failed_id}",
                              headers=HTMX))  # fmt: skip
    fix_password(app, mailbox_id, smtp_server)
    assert rep_client.post(f"/outgoing/{failed_id}/retry", headers=HTMX).status_code == 200
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 422
    assert "already sent again" in response.get_data(as_text=True)
    assert len(smtp_server.messages) == 1


def test_a_failed_email_is_discarded_by_its_owner_only(
    app, engine, rep, rep_client, mailbox_id, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, failed_id, _ = failed_reply(app, engine, rep, rep_client)
    stranger = log_in(app.test_client(), factories.make_user(engine).email)
    assert stranger.post(f"/outgoing/{failed_id}/discard", headers=HTMX).status_code == 404
    assert f"draft={failed_id}" not in page(stranger, f"/leads/{lead.id}/compose?draft={failed_id}",
                                            headers=HTMX)  # fmt: skip
    response = rep_client.post(f"/outgoing/{failed_id}/discard", headers=HTMX)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "")
    with read_session(engine) as session:
        assert session.get(OutgoingEmail, failed_id) is None
    assert f'id="outgoing-{failed_id}"' not in page(rep_client, f"/leads/{lead.id}")


def test_a_sent_email_cannot_be_discarded(
    app, engine, rep, rep_client, mailbox_id, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    _lead, failed_id, _ = failed_reply(app, engine, rep, rep_client)
    fix_password(app, mailbox_id, smtp_server)
    rep_client.post(f"/outgoing/{failed_id}/retry", headers=HTMX)
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    response = rep_client.post(f"/outgoing/{failed_id}/discard", headers=HTMX)
    assert response.status_code == 200 and "outgoing-sent" in response.get_data(as_text=True)
    with read_session(engine) as session:
        assert session.get(OutgoingEmail, failed_id).state == OutgoingState.SENT
