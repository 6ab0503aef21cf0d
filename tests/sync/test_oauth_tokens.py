"""OAuth mailboxes in the sync and in sending: access tokens refreshed before they expire and
once when the server refuses them, the refreshed tokens saved, a revoked grant turned into
"needs reconnect" with a one-click fix; against the test authorization server, Dovecot's
oauth2 passdb and an XOAUTH2 SMTP server (no mocks)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Company, Email, Mailbox, OAuthApp, OutgoingEmail
from dashboard.sending.outgoing import create_outgoing
from dashboard.states import MailboxStatus
from dashboard.sync.runner import due_mailbox_ids
from dashboard.sync.scheduler import oauth_config
from dashboard.sync.tokens import OAuthConfig, TokenUnavailable, provider_for
from tests.support.idle import idle_supervisor, wait_until
from tests.support.mailboxes import MAILBOX_URL, english_client
from tests.support.oauth import come_back, connect_with_oauth, consent_url, register_leadsync
from tests.support.oauth import oauth_config as app_oauth_config
from tests.support.sending import make_lead
from tests.support.servers.dovecot import new_user
from tests.support.sync import mailbox_row, plain_email, set_mailbox, sync
from tests.support.sync import make_lead as make_lead_with


@pytest.fixture
def smtp(oauth_mail, make_smtp_server):  # type: ignore[no-untyped-def]
    return make_smtp_server(bearer_user=oauth_mail.oauth.active_user)


@pytest.fixture
def app_config(tmp_path, oauth_mail, smtp) -> dict:  # type: ignore[no-untyped-def]
    return app_oauth_config(tmp_path, oauth_mail, smtp)


@pytest.fixture
def short_lived(oauth_mail):  # type: ignore[no-untyped-def]
    """Access tokens live 3 seconds (ask for it before `connected`)."""
    oauth_mail.oauth.token_lifetime = 3


@pytest.fixture
def connected(app, engine, rep, oauth_mail):  # type: ignore[no-untyped-def]
    """The rep's Dovecot mailbox, connected with "Connect with Google"; (user, mailbox id)."""
    register_leadsync(app, oauth_mail)
    make_lead_with(engine, "Lúcia Prado", "lead@cliente.test")  # whose mail the sync keeps
    user = new_user(oauth_mail.dovecot)
    connect_with_oauth(english_client(app, rep.email), user.address)
    with read_session(engine) as session:
        mailbox = session.exec(select(Mailbox).where(Mailbox.user_id == rep.id)).one()
    return user, mailbox.id


def run(app, mailbox_id: int):  # type: ignore[no-untyped-def]
    """One sync run with the app's OAuth configuration."""
    return sync(app, mailbox_id, oauth=oauth_config(app))


def stored_subjects(engine) -> set[str]:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return set(session.scalars(select(Email.subject)))


def test_short_lived_tokens_are_refreshed_and_saved_and_the_sync_keeps_working(
    app, engine, oauth_mail, short_lived, connected
):
    user, mailbox_id = connected
    box = app.extensions["leadsync.secrets"]
    for round_number in range(2):
        before = mailbox_row(engine, mailbox_id)
        refreshes = oauth_mail.oauth.refreshes
        user.append(
            "INBOX", plain_email("lead@cliente.test", user.address, f"Pedido {round_number}")
        )
        result = run(app, mailbox_id)
        assert result.error_code is None, result.error
        assert f"Pedido {round_number}" in stored_subjects(engine)
        after = mailbox_row(engine, mailbox_id)
        assert oauth_mail.oauth.refreshes == refreshes + 1
        assert box.decrypt(after.access_token) != box.decrypt(before.access_token)
        # The server rotates refresh tokens: the new one is stored, the old one is dead.
        assert box.decrypt(after.secret) != box.decrypt(before.secret)
        assert oauth_mail.oauth.active_user(box.decrypt(after.access_token)) == user.address
        assert after.access_expires_at > before.access_expires_at
        time.sleep(3.2)  # the token used this round has now expired at the server
        assert oauth_mail.oauth.active_user(box.decrypt(after.access_token)) is None


def test_a_token_the_server_refuses_before_its_expiry_is_refreshed_once(
    app, engine, oauth_mail, short_lived, connected
):
    user, mailbox_id = connected
    # Stored as valid for an hour, but dead at the server (revoked early, clocks apart).
    set_mailbox(engine, mailbox_id, access_expires_at=datetime.now(UTC) + timedelta(hours=1))
    time.sleep(3.2)
    refreshes = oauth_mail.oauth.refreshes
    user.append("INBOX", plain_email("lead@cliente.test", user.address, "Retomada"))
    oauth_mail.oauth.token_lifetime = 3600
    result = run(app, mailbox_id)
    assert result.error_code is None, result.error
    assert "Retomada" in stored_subjects(engine)
    assert oauth_mail.oauth.refreshes == refreshes + 1


def test_a_revoked_grant_asks_for_reconnecting_and_one_click_reconnects(
    app, engine, admin, rep, oauth_mail, connected
):
    user, mailbox_id = connected
    assert run(app, mailbox_id).error_code is None
    oauth_mail.oauth.revoke_grants(user.address)
    result = run(app, mailbox_id)
    assert result.error_code == "oauth_revoked"
    mailbox = mailbox_row(engine, mailbox_id)
    assert (mailbox.status, mailbox.last_error_code) == (
        MailboxStatus.NEEDS_RECONNECT,
        "oauth_revoked",
    )
    assert mailbox_id not in due_mailbox_ids(engine, datetime.now(UTC))
    client = english_client(app, rep.email)
    page = client.get(MAILBOX_URL).text
    assert "no longer allows LeadSync to read this mailbox" in page
    assert "Reconnect with Google (OAuth)" in page
    assert "its sign-in with Google or Microsoft was revoked" in page  # the banner, every page
    admin_console = english_client(app, admin.email).get("/settings/team-mailboxes/").text
    assert "no longer allows LeadSync to read this mailbox" in admin_console
    answer = client.post(f"{MAILBOX_URL}oauth/reconnect")
    come_back(client, consent_url(answer), user.address)
    mailbox = mailbox_row(engine, mailbox_id)
    assert (mailbox.status, mailbox.last_error_code) == (MailboxStatus.CONNECTED, None)
    user.append("INBOX", plain_email("lead@cliente.test", user.address, "De volta"))
    assert run(app, mailbox_id).error_code is None
    assert "De volta" in stored_subjects(engine)


def send_smart_email(app, engine, rep, lead, address: str) -> OutgoingEmail:  # type: ignore[no-untyped-def]
    """A smart email from the rep to the lead, through the real send queue; its final row."""
    with write_session(engine) as session:
        outgoing_id = create_outgoing(
            session, user=rep, lead=lead, to=[address], cc=[], bcc=[], subject="Proposta",
            body="Olá!", reply_to_email=None, template=None, tracking=False, public_url=None,
        ).id  # fmt: skip
    app.extensions["leadsync.send_queue"].submit(outgoing_id).result(timeout=30)
    with read_session(engine) as session:
        return session.get(OutgoingEmail, outgoing_id)


def test_a_smart_email_leaves_over_smtp_with_xoauth2_and_a_fresh_token(
    app, engine, rep, oauth_mail, smtp, short_lived, connected
):
    user, mailbox_id = connected
    time.sleep(3.2)  # the token stored at connect time has expired
    lead, address = make_lead(engine, "Bruno Lima")
    outgoing = send_smart_email(app, engine, rep, lead, address)
    assert (outgoing.state, outgoing.error_code) == ("sent", None), outgoing.error_detail
    (message,) = smtp.messages
    assert message.rcpt_tos == (address,) and message.mail_from == user.address


def test_a_revoked_grant_fails_a_smart_email_with_a_reason_and_sends_nothing(
    app, engine, rep, oauth_mail, smtp, connected
):
    user, _mailbox_id = connected
    oauth_mail.oauth.revoke_grants(user.address)
    lead, address = make_lead(engine, "Carla Dias")
    outgoing = send_smart_email(app, engine, rep, lead, address)
    assert (outgoing.state, outgoing.error_code) == ("failed", "auth_failed")
    assert smtp.messages == []


@pytest.mark.parametrize(("testing", "allow_local", "refused"), [
    (False, False, True), (False, True, False), (True, False, False),
])  # fmt: skip
def test_an_endpoint_override_counts_only_for_tests_or_companies_allowing_local_servers(
    engine, admin, testing, allow_local, refused
):
    overrides = {"google": {"token_url": "http://127.0.0.1:9/token"}}
    with write_session(engine) as session:
        company = session.exec(select(Company)).one()
        company.allow_local_servers = allow_local
        session.add(company)
    with read_session(engine) as session:
        if refused:
            with pytest.raises(TokenUnavailable):
                provider_for(session, "google", OAuthConfig(overrides, testing))
        else:
            assert provider_for(session, "google", OAuthConfig(overrides, testing)).token_url == (
                "http://127.0.0.1:9/token"
            )
        assert provider_for(session, "google", OAuthConfig({}, False)).token_url == (
            "https://oauth2.googleapis.com/token"
        )


def test_a_client_secret_the_provider_refuses_sends_the_admin_to_the_company_profile(
    app, engine, admin, oauth_mail, connected
):
    _user, mailbox_id = connected
    box = app.extensions["leadsync.secrets"]
    with write_session(engine) as session:  # the secret expired at Microsoft, say
        oauth_app = session.get(OAuthApp, "google")
        oauth_app.secret = box.encrypt("expired-secret")
        session.add(oauth_app)
    set_mailbox(engine, mailbox_id, access_expires_at=None)  # a refresh is due
    result = run(app, mailbox_id)
    assert result.error_code == "oauth_not_configured"
    mailbox = mailbox_row(engine, mailbox_id)
    assert mailbox.status == MailboxStatus.ERROR  # not the user's to fix: no reconnect asked
    console = english_client(app, admin.email).get("/settings/team-mailboxes/").text
    assert "is no longer set up for this company. An administrator must enter" in console


def test_an_oauth_mailbox_idles_with_an_access_token_and_new_mail_arrives_in_seconds(
    app, engine, oauth_mail, connected
):
    """IDLE logs in with XOAUTH2 like the sync (a refresh token is no password)."""
    user, mailbox_id = connected
    with idle_supervisor(app) as supervisor:
        wait_until(lambda: mailbox_row(engine, mailbox_id).idle_since is not None, 10)
        wait_until(lambda: supervisor.stats.syncs >= 1, 10)
        user.append("INBOX", plain_email("lead@cliente.test", user.address, "Pelo IDLE"))
        seconds = wait_until(lambda: "Pelo IDLE" in stored_subjects(engine), 5)
    assert seconds < 5
    assert mailbox_row(engine, mailbox_id).status != MailboxStatus.NEEDS_RECONNECT
