"""IMAP IDLE against Dovecot: a reply in INBOX is synced within seconds (with a 60-minute
interval), a dropped IDLE comes back after a backoff, a server that drops every connection
gets a bounded number of attempts, the cap holds, and stop ends every IDLE at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session, write_session
from dashboard.db.flask import secret_box
from dashboard.models import Email, Mailbox, Notification, OutgoingEmail, User
from dashboard.sync.store.lease import release_lease, take_lease
from tests.support.idle import DroppingRelay, idle_supervisor, wait_until
from tests.support.mailboxes import english_client
from tests.support.servers.dovecot import new_user
from tests.support.sync import connect, mailbox_row, make_lead, set_company, set_mailbox


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def reply(sender: str, to: str, subject: str, in_reply_to: str | None = None) -> bytes:
    """A lead's answer, dated now."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="client.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg.set_content("Pode mandar a proposta.\n")
    return msg.as_bytes()


def idling(engine, mailbox_id: int) -> bool:  # type: ignore[no-untyped-def]
    """True while the supervisor says the mailbox idles."""
    return mailbox_row(engine, mailbox_id).idle_since is not None


def stored(engine, subject: str) -> bool:  # type: ignore[no-untyped-def]
    """True once an email with this subject is stored."""
    with read_session(engine) as session:
        return session.scalar(select(Email.id).where(Email.subject == subject)) is not None


def test_a_reply_in_inbox_is_on_the_lead_page_and_notifies_within_5_seconds(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    set_company(engine, interval_minutes=60)
    lead_id = make_lead(engine, "Joana", "joana@client.test")
    with write_session(engine) as session:
        rep = session.scalars(select(User).where(User.email == user.address)).one()
        session.add(
            OutgoingEmail(
                user_id=rep.id, lead_id=lead_id, message_id="<ls.idle@acme.test>",
                to_addrs=["joana@client.test"], state="sent",
            )
        )  # fmt: skip
    with idle_supervisor(app) as supervisor:
        wait_until(lambda: idling(engine, mailbox_id) and supervisor.stats.syncs >= 1, 10)
        user.append("INBOX", reply("joana@client.test", user.address, "Re: Proposta IDLE",
                                   "<ls.idle@acme.test>"))  # fmt: skip
        with read_session(engine) as session:
            assert session.scalars(select(Notification)).all() == []
        seconds = wait_until(lambda: stored(engine, "Re: Proposta IDLE"), 5)
        with read_session(engine) as session:
            notes = session.scalars(select(Notification)).all()
        assert [(n.kind, n.lead_id, n.user_id) for n in notes] == [("reply", lead_id, rep.id)]
        page = english_client(app, user.address).get(f"/leads/{lead_id}")
        assert "Re: Proposta IDLE" in page.get_data(as_text=True)
    assert seconds < 5


def test_new_mail_waits_while_the_interval_round_holds_the_mailbox_then_syncs(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    """Never two syncs of one mailbox at once: the IDLE's sync waits for the round's lease."""
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    make_lead(engine, "Joana", "joana@client.test")
    round_holder = "another-host:1:interval-round"
    with idle_supervisor(app) as supervisor:
        wait_until(lambda: idling(engine, mailbox_id) and supervisor.stats.syncs >= 1, 10)
        with write_session(engine) as session:
            assert take_lease(session, mailbox_id, round_holder, 600)
        user.append("INBOX", reply("joana@client.test", user.address, "Durante a rodada"))
        time.sleep(2.0)
        assert not stored(engine, "Durante a rodada")
        with write_session(engine) as session:
            release_lease(session, mailbox_id, round_holder)
        wait_until(lambda: stored(engine, "Durante a rodada"), 5)


def test_without_idle_the_mailbox_waits_for_the_interval_round(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    set_company(engine, interval_minutes=60)
    make_lead(engine, "Joana", "joana@client.test")
    set_mailbox(engine, mailbox_id, capabilities=["IMAP4rev1"])  # a server without IDLE
    with idle_supervisor(app) as supervisor:
        time.sleep(1.0)
        user.append("INBOX", reply("joana@client.test", user.address, "Sem IDLE"))
        time.sleep(1.5)
        assert supervisor.stats.attempts == 0
        assert not idling(engine, mailbox_id)
        assert not stored(engine, "Sem IDLE")


def test_idle_is_reissued_on_time_and_still_delivers(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    make_lead(engine, "Joana", "joana@client.test")
    with idle_supervisor(app, renew=0.3) as supervisor:
        wait_until(lambda: supervisor.stats.renewals >= 3, 5)
        assert idling(engine, mailbox_id)
        assert supervisor.stats.attempts == 1  # renewed on the same connection
        user.append("INBOX", reply("joana@client.test", user.address, "Depois do DONE"))
        wait_until(lambda: stored(engine, "Depois do DONE"), 5)


def test_a_dropped_idle_comes_back_after_a_backoff_and_delivers_again(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    relay = DroppingRelay(dovecot_server.port)
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user, port=relay.port)
    make_lead(engine, "Joana", "joana@client.test")
    try:
        with idle_supervisor(app) as supervisor:
            wait_until(lambda: idling(engine, mailbox_id), 10)
            relay.cut_all()  # the server restarts
            wait_until(lambda: not idling(engine, mailbox_id), 5)
            wait_until(lambda: idling(engine, mailbox_id), 5)
            assert supervisor.stats.attempts == 2
            user.append("INBOX", reply("joana@client.test", user.address, "Depois da queda"))
            wait_until(lambda: stored(engine, "Depois da queda"), 5)
    finally:
        relay.close()


def test_a_server_dropping_every_connection_gets_backoff_not_a_storm(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    relay = DroppingRelay(dovecot_server.port)
    user = new_user(dovecot_server)
    connect(app, user, port=relay.port)
    relay.drop_new, before = True, relay.accepted
    try:
        with idle_supervisor(app, backoff_base=0.2, backoff_ceiling=1.0) as supervisor:
            time.sleep(3.0)
            attempts = relay.accepted - before
    finally:
        relay.close()
    # Delays of at least 0.1, 0.2, 0.4, then 0.5 s (half the ceiling): at most 1 + 3 + 5 = 9
    # attempts in 3 s. Reconnecting at once would be hundreds.
    assert 3 <= attempts <= 9, attempts
    assert supervisor.stats.attempts == attempts


def test_a_refused_login_gets_the_same_backoff(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    set_mailbox(engine, mailbox_id, secret=secret_box(app).encrypt("not-the-password"))
    with idle_supervisor(app, backoff_base=0.2, backoff_ceiling=1.0) as supervisor:
        time.sleep(3.0)
        attempts = supervisor.stats.attempts
        assert not idling(engine, mailbox_id)
    assert 3 <= attempts <= 9, attempts  # the bound of the dropping server above


def test_connections_stay_under_the_cap_and_mailboxes_take_turns(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    ids = [connect(app, new_user(dovecot_server)) for _ in range(3)]
    set_company(engine, idle_connections=2)
    seen: set[int] = set()
    with idle_supervisor(app, rotate=1.0) as supervisor:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            assert supervisor.connections() <= 2
            with read_session(engine) as session:
                now_idling = session.scalars(
                    select(Mailbox.id).where(Mailbox.idle_since.is_not(None))
                ).all()
            assert len(now_idling) <= 2
            seen.update(now_idling)
            time.sleep(0.05)
    assert seen == set(ids)  # every mailbox had its turn


def test_disconnect_and_a_new_password_stop_and_restart_idle(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    secret = mailbox_row(engine, mailbox_id).secret
    with idle_supervisor(app) as supervisor:
        wait_until(lambda: idling(engine, mailbox_id), 10)
        set_mailbox(engine, mailbox_id, secret=None)  # "Desconectar"
        wait_until(lambda: not idling(engine, mailbox_id), 10)
        wait_until(lambda: supervisor.connections() == 0, 5)
        # Connected again (mailboxes.service.connect_mailbox stores a fresh token)
        set_mailbox(engine, mailbox_id, secret=secret_box(app).encrypt(user.password))
        assert mailbox_row(engine, mailbox_id).secret not in (None, secret)
        wait_until(lambda: idling(engine, mailbox_id), 10)
        assert supervisor.stats.attempts >= 2  # a new connection, with the new password


def test_stop_ends_every_idle_within_two_seconds(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    ids = [connect(app, new_user(dovecot_server)) for _ in range(5)]
    with idle_supervisor(app) as supervisor:
        wait_until(lambda: all(idling(engine, i) for i in ids), 15)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    assert not any(idling(engine, i) for i in ids)
    assert not supervisor.thread.is_alive()
