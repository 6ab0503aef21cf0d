"""Replying from the lead page: `?reply=<email id>` (ids are sequential) prefills only from
an email the viewer may read in full; any other id is ignored, as an unknown one is, and a
posted `reply_to` of such an email neither lends its subject nor threads the new email."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from dashboard.db.engine import read_session
from dashboard.models import Email, Lead, OutgoingEmail, User
from tests.support.clients import log_in
from tests.support.lead_data import lead_data, set_company
from tests.support.leads import HTMX, page
from tests.support.sending import connect_smtp
from tests.support.servers.smtp import SmtpServer

SECRET = "Zanzibar merger terms"
BOSS = "boss@client.test"


@pytest.fixture
def app_config(smtp_server: SmtpServer) -> dict:
    """Trust the test SMTP server's CA; English labels."""
    return {"IMAP_CA_FILE": smtp_server.ca_file, "LANGUAGES": ("en", "pt_BR")}


@pytest.fixture
def teammate_client(app: Flask, teammate: User) -> FlaskClient:
    """The teammate, logged in."""
    return log_in(app.test_client(), teammate.email)


@pytest.fixture
def story(engine: Engine, teammate: User) -> tuple[Lead, Email]:
    """A lead and an email the teammate received from the lead's boss."""
    with lead_data(engine) as data:
        lead = data.lead(name="Shared Lead", addresses=["buyer@client.test", BOSS])
        (email,) = data.thread(lead, rep=teammate, messages=1, subject=SECRET, sender=BOSS)
    return lead, email


def reply_form(client: FlaskClient, story: tuple[Lead, Email]) -> str:
    """The compose form as the "Reply" link asks for it."""
    lead, email = story
    return page(client, f"/leads/{lead.id}/compose", query_string={"reply": email.id},
                headers=HTMX)  # fmt: skip


def prefilled(html: str) -> bool:
    """Does the form carry anything of the replied email (subject, sender as To, its id)?"""
    reply_to = re.search(r'name="reply_to"[^>]*value="(\d*)"', html)
    return SECRET in html or f'value="{BOSS}"' in html or bool(reply_to and reply_to.group(1))


def test_reply_prefill_from_an_email_the_viewer_reads_in_full(engine, story, rep_client):
    set_company(engine, visibility="all")
    html = reply_form(rep_client, story)
    assert f"Re: {SECRET}" in html and f'value="{BOSS}"' in html and prefilled(html)


def test_reply_prefill_leaks_nothing_of_a_teammates_private_thread(
    engine, story, rep_client, teammate_client
):
    set_company(engine, visibility="all")
    _lead, email = story
    marked = teammate_client.post(f"/leads/{story[0].id}/private", data={"key": email.thread_key})
    assert marked.status_code == 302
    assert not prefilled(reply_form(rep_client, story))
    assert prefilled(reply_form(teammate_client, story))  # the teammate still may


@pytest.mark.parametrize("visibility", ["subject", "metadata"])
def test_reply_prefill_needs_the_email_in_full(engine, story, rep_client, visibility):
    """Under "metadata" the subject and sender were handed over; under "subject" the timeline
    offers no "Reply" either, so the rule is one: reply to what you may read in full."""
    set_company(engine, visibility=visibility)
    assert not prefilled(reply_form(rep_client, story))


def test_a_posted_reply_to_a_hidden_email_takes_neither_its_subject_nor_its_thread(
    app, engine, story, rep, rep_client, smtp_server
):
    set_company(engine, visibility="metadata")
    connect_smtp(app, rep, smtp_server)
    lead, email = story
    response = rep_client.post(
        f"/leads/{lead.id}/compose",
        data={"to": "buyer@client.test", "cc": "", "bcc": "", "subject": "", "body": "Oi",
              "template": "0", "reply_to": str(email.id)},
        headers=HTMX,
    )  # fmt: skip
    assert response.status_code == 200 and SECRET not in response.get_data(as_text=True)
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    with read_session(engine) as session:
        outgoing = session.scalar(select(OutgoingEmail))
    assert SECRET not in outgoing.subject
    assert outgoing.in_reply_to is None and email.message_id not in outgoing.references
