"""The home page: my leads to answer and awaiting reply (the lead list's own filters), my
mailbox's state, and for admins the team's mailboxes that stopped syncing."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import update

from dashboard.db.engine import write_session
from dashboard.models import Mailbox, User
from dashboard.states import MailboxStatus
from tests.support.lead_data import ago, lead_data
from tests.support.leads import ENGLISH, listed_ids, page, text_of


@pytest.fixture
def app_config() -> dict:
    """English labels."""
    return ENGLISH


def connect(app: Flask, user: User, status: str, error: str | None = None) -> None:
    """Give the user a connected mailbox in the given sync state."""
    secret = app.extensions["leadsync.secrets"].encrypt("app-password")
    with write_session(app.extensions["leadsync.engine"]) as session:
        session.add(
            Mailbox(
                user_id=user.id, provider="other", address=f"box.{user.email}",
                username=user.email, imap_host="imap.example.test", imap_port=993,
                imap_security="tls", secret=secret, status=status, last_error_code=error,
            )
        )  # fmt: skip


def count_link(html: str, element_id: str) -> tuple[int, str]:
    """The number a home-page count shows and where it links."""
    found = re.search(rf'id="{element_id}" href="([^"]+)"><strong>(\d+)</strong>', html)
    assert found, element_id
    return int(found.group(2)), found.group(1).replace("&amp;", "&")


@pytest.fixture
def waiting_leads(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """The rep's leads: two to answer, one awaiting reply, one answered today; a teammate's
    lead to answer (not the rep's)."""
    with lead_data(engine) as data:
        for _ in range(2):
            data.thread(data.lead(owner=rep), rep=rep, messages=2, directions=("out", "in"))
        data.thread(
            data.lead(owner=rep), rep=rep, messages=1, directions=("out",), start=ago(days=10)
        )
        data.thread(data.lead(owner=rep), rep=rep, messages=1, directions=("out",), start=ago())
        data.thread(data.lead(owner=teammate), rep=teammate, messages=1, directions=("in",))


def test_a_rep_sees_their_leads_to_answer_and_awaiting_reply(waiting_leads, rep_client) -> None:  # type: ignore[no-untyped-def]
    html = page(rep_client, "/")
    to_answer, answer_url = count_link(html, "home-to-answer")
    awaiting, awaiting_url = count_link(html, "home-awaiting")
    assert (to_answer, awaiting) == (2, 1)
    assert answer_url == "/leads/?owner=me&status=reply"
    assert awaiting_url == "/leads/?owner=me&status=awaiting"
    # the counts are what the filtered list shows
    assert len(listed_ids(page(rep_client, answer_url))) == to_answer
    assert len(listed_ids(page(rep_client, awaiting_url))) == awaiting


def test_a_rep_without_a_mailbox_is_offered_to_connect_one(rep_client) -> None:  # type: ignore[no-untyped-def]
    html = page(rep_client, "/")
    assert re.search(r'id="home-connect" href="/settings/mailbox/"', html)
    assert "Not connected" in text_of(html)
    assert 'id="home-team"' not in html  # the team's mailboxes are for admins


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        (MailboxStatus.CONNECTED, None, "Connected"),
        (MailboxStatus.SYNCING, None, "Syncing"),
        (MailboxStatus.ERROR, "connection_refused", "imap.example.test refused the connection"),
        (MailboxStatus.NEEDS_RECONNECT, "auth_failed", "The server refused the address"),
    ],
)
def test_a_rep_sees_their_mailbox_state_and_the_cause_of_an_error(  # type: ignore[no-untyped-def]
    app, rep, rep_client, status, error, shown
) -> None:
    connect(app, rep, status, error)
    html = page(rep_client, "/")
    panel = html[html.index('id="home-mailbox"') :]
    assert f"box.{rep.email}" in panel and shown in text_of(panel)
    assert 'id="home-connect"' not in panel


def test_an_admin_sees_the_team_mailboxes_that_stopped_syncing(  # type: ignore[no-untyped-def]
    app, engine, admin, rep, teammate, admin_client
) -> None:
    connect(app, rep, MailboxStatus.NEEDS_RECONNECT, "auth_failed")
    connect(app, teammate, MailboxStatus.CONNECTED)
    connect(app, admin, MailboxStatus.SYNCING)
    html = page(admin_client, "/")
    team = text_of(html[html.index('id="home-team"') :])
    assert "1 mailbox of the team has a problem" in team
    assert rep.name in team and "The server refused the address" in team
    assert teammate.name not in team and admin.name not in team
    assert 'href="/settings/team-mailboxes/"' in html[html.index('id="home-team"') :]
    with write_session(engine) as session:  # a deactivated user's mailbox is not a problem
        session.execute(update(User).where(User.id == rep.id).values(active=False))
    assert "Every connected mailbox of the team is syncing" in text_of(page(admin_client, "/"))
