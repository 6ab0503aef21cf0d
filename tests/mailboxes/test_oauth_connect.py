""" "Conectar com Google/Microsoft": the consent on a real authorization server, the way back,
a real XOAUTH2 login to Dovecot and the SMTP server before anything is saved, and every way
it can go wrong (nothing saved then)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail.net import XOAUTH2
from dashboard.models import Mailbox, OAuthApp
from dashboard.states import MailboxStatus
from tests.support.mailboxes import MAILBOX_URL, audit_events, english_client, mailbox_events
from tests.support.oauth import come_back, consent_url, oauth_config, register_leadsync
from tests.support.servers.dovecot import new_user


@pytest.fixture
def smtp(oauth_mail, make_smtp_server):  # type: ignore[no-untyped-def]
    """An implicit-TLS SMTP server that takes XOAUTH2 bearers the authorization server issued."""
    return make_smtp_server(bearer_user=oauth_mail.oauth.active_user)


@pytest.fixture
def app_config(tmp_path, oauth_mail, smtp) -> dict:  # type: ignore[no-untyped-def]
    return oauth_config(tmp_path, oauth_mail, smtp)


@pytest.fixture
def registered(app, oauth_mail):  # type: ignore[no-untyped-def]
    """LeadSync registered at the provider, its client ID and secret saved by the admin."""
    return register_leadsync(app, oauth_mail)


def start(client, address: str, url: str = MAILBOX_URL):  # type: ignore[no-untyped-def]
    """Pick "Google (OAuth)" and click "Connect with Google"."""
    return client.post(url, data={"provider": "google", "address": address})


def stored(engine, user_id: int) -> Mailbox | None:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return session.exec(select(Mailbox).where(Mailbox.user_id == user_id)).first()


def test_a_rep_connects_with_google_and_only_encrypted_tokens_are_kept(
    app, engine, rep, oauth_mail, registered, smtp
):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    answer = start(client, user.address)
    assert answer.status_code == 200  # a link to the provider (a form may not redirect there)
    url = consent_url(answer)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(oauth_mail.oauth.url + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    assert query["redirect_uri"] == ["http://localhost/settings/mailbox/oauth/callback"]
    assert stored(engine, rep.id) is None  # nothing saved before the way back
    back = come_back(client, url, user.address)
    assert back.status_code == 302 and back.headers["Location"] == MAILBOX_URL
    mailbox = stored(engine, rep.id)
    assert mailbox is not None
    assert (mailbox.auth, mailbox.status, mailbox.address) == (
        XOAUTH2,
        MailboxStatus.CONNECTED,
        user.address,
    )
    assert (mailbox.imap_port, mailbox.smtp_port) == (oauth_mail.dovecot.port, smtp.port)
    box = app.extensions["leadsync.secrets"]
    access = box.decrypt(mailbox.access_token)
    assert oauth_mail.oauth.active_user(access) == user.address
    refresh = box.decrypt(mailbox.secret)
    assert oauth_mail.oauth.store.token(refresh, "refresh_token") is not None
    assert access.encode() not in mailbox.access_token and refresh.encode() not in mailbox.secret
    assert mailbox.access_expires_at is not None
    assert "INBOX" in mailbox.folders and mailbox.sent_folder
    assert [e.kind for e in mailbox_events(engine, rep.id)] == ["verified"]
    assert audit_events(engine)[-1].action == "mailbox.connect"
    page = client.get(MAILBOX_URL).data.decode()
    assert "Mailbox connected" in page and "Google (OAuth) sign-in (OAuth)" in page
    assert access not in page and refresh not in page


def test_testing_and_disconnecting_an_oauth_mailbox(app, engine, rep, oauth_mail, registered):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    come_back(client, consent_url(start(client, user.address)), user.address)
    tested = client.post(f"{MAILBOX_URL}test")
    assert "Connection tested: everything works." in tested.text
    oauth_mail.oauth.revoke_grants(user.address)
    with write_session(engine) as session:  # as if the stored access token had expired
        session.execute(update(Mailbox).values(access_expires_at=None))
    failed = client.post(f"{MAILBOX_URL}test").text
    assert "no longer allows LeadSync to read this mailbox" in failed
    assert stored(engine, rep.id).status == MailboxStatus.NEEDS_RECONNECT
    client.post(f"{MAILBOX_URL}disconnect", data={"history": "keep"})
    mailbox = stored(engine, rep.id)
    assert (mailbox.secret, mailbox.access_token, mailbox.access_expires_at) == (None, None, None)


def test_an_admin_connects_a_teammates_mailbox_on_their_behalf(
    app, engine, admin, rep, oauth_mail, registered
):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, admin.email)
    team_page = f"/settings/team-mailboxes/{rep.id}/"
    answer = start(client, user.address, team_page)
    back = come_back(client, consent_url(answer), user.address)
    assert back.headers["Location"] == team_page
    mailbox = stored(engine, rep.id)
    assert mailbox and mailbox.connected_by_user_id == admin.id
    assert stored(engine, admin.id) is None


def test_a_state_that_is_not_this_sessions_saves_nothing(
    app, engine, rep, teammate, oauth_mail, registered
):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    forged = consent_url(start(client, user.address)).replace("state=", "state=x")
    back = come_back(client, forged, user.address)
    assert back.status_code == 302
    page = client.get(back.headers["Location"]).data.decode()
    assert "This sign-in was not started here" in page
    assert stored(engine, rep.id) is None
    # Another user cannot finish the rep's consent with the rep's code and state either.
    other = english_client(app, teammate.email)
    come_back(other, consent_url(start(client, user.address)), user.address)
    assert stored(engine, rep.id) is None and stored(engine, teammate.id) is None


def test_a_denied_consent_says_so_and_saves_nothing(app, engine, rep, oauth_mail, registered):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    back = come_back(client, consent_url(start(client, user.address)), "", "deny")
    page = client.get(back.headers["Location"]).data.decode()
    assert "You did not allow LeadSync to access the mailbox" in page
    assert stored(engine, rep.id) is None


def test_signing_in_with_another_account_is_refused_by_the_mail_server(
    app, engine, rep, oauth_mail, registered
):
    typed, signed_in = new_user(oauth_mail.dovecot), new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    back = come_back(client, consent_url(start(client, typed.address)), signed_in.address)
    page = client.get(back.headers["Location"]).data.decode()
    assert "refused the sign-in for this address" in page
    assert stored(engine, rep.id) is None
    assert [e.kind for e in mailbox_events(engine, rep.id)] == ["verify_failed"]


def test_a_provider_nobody_set_up_tells_the_rep_to_ask_and_the_admin_where(
    app, engine, admin, rep, oauth_mail
):
    rep_client = english_client(app, rep.email)
    page = rep_client.get(MAILBOX_URL).data.decode()
    assert "Sign-in with Google (OAuth) is not set up yet. Ask your LeadSync administrator" in page
    answer = start(rep_client, "rep@acme.test")
    assert answer.status_code == 422
    assert "Ask your LeadSync administrator" in answer.data.decode()
    admin_page = english_client(app, admin.email).get(MAILBOX_URL).data.decode()
    assert 'href="/settings/company/oauth/google"' in admin_page
    assert stored(engine, rep.id) is None


def test_the_admin_enters_the_app_and_the_secret_is_stored_encrypted(app, engine, admin, rep):
    client = english_client(app, admin.email)
    guide = client.get("/settings/company/oauth/microsoft").data.decode()
    assert "http://localhost/settings/mailbox/oauth/callback" in guide
    for scope in ("IMAP.AccessAsUser.All", "SMTP.Send", "offline_access"):
        assert scope in guide
    missing = client.post("/settings/company/oauth/microsoft", data={"client_id": "abc-123"})
    assert missing.status_code == 422 and "Enter the client secret." in missing.data.decode()
    with read_session(engine) as session:
        assert session.get(OAuthApp, "microsoft") is None
    saved = client.post(
        "/settings/company/oauth/microsoft",
        data={"client_id": "abc-123", "client_secret": "s3cr3t-value"},
    )
    assert saved.status_code == 200 and "s3cr3t-value" not in saved.data.decode()
    with read_session(engine) as session:
        app_row = session.get(OAuthApp, "microsoft")
    assert app_row.client_id == "abc-123" and b"s3cr3t-value" not in app_row.secret
    assert app.extensions["leadsync.secrets"].decrypt(app_row.secret) == "s3cr3t-value"
    kept = client.post("/settings/company/oauth/microsoft", data={"client_id": "abc-456"})
    assert kept.status_code == 200
    with read_session(engine) as session:
        assert session.get(OAuthApp, "microsoft").secret == app_row.secret
    assert audit_events(engine)[-1].action == "oauth_app.save"
    assert (
        english_client(app, rep.email).get("/settings/company/oauth/microsoft").status_code == 403
    )


def test_the_redirect_uri_comes_from_the_public_url(app, admin):
    app.config["PUBLIC_URL"] = "https://crm.acme.com.br/"
    page = english_client(app, admin.email).get("/settings/company/oauth/google").data.decode()
    assert "https://crm.acme.com.br/settings/mailbox/oauth/callback" in page
    assert "LEADSYNC_PUBLIC_URL is not set" not in page


def test_the_new_routes_refuse_requests_without_a_csrf_token(app, rep, admin, registered):
    client = english_client(app, rep.email)
    form = {"provider": "google", "address": "rep@acme.test"}
    assert client.post(MAILBOX_URL, data=form, csrf=False).status_code == 400
    assert client.post(f"{MAILBOX_URL}oauth/reconnect", csrf=False).status_code == 400
    admin_client = english_client(app, admin.email)
    answer = admin_client.post(
        "/settings/company/oauth/google", data={"client_id": "x"}, csrf=False
    )
    assert answer.status_code == 400


def test_a_rep_cannot_start_a_consent_for_a_teammate(app, rep, teammate, registered):
    client = english_client(app, rep.email)
    assert (
        start(client, "x@acme.test", f"/settings/team-mailboxes/{teammate.id}/").status_code == 404
    )
    assert client.post(f"/settings/team-mailboxes/{teammate.id}/oauth/reconnect").status_code == 404


def test_key_rotation_re_encrypts_the_oauth_tokens_and_the_client_secret(
    app, engine, rep, oauth_mail, registered
):
    user = new_user(oauth_mail.dovecot)
    client = english_client(app, rep.email)
    come_back(client, consent_url(start(client, user.address)), user.address)
    before = stored(engine, rep.id)
    assert app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    box = SecretBox.from_file(Path(app.instance_path) / "fernet.key")  # the new key only
    after = stored(engine, rep.id)
    assert after.access_token != before.access_token
    assert oauth_mail.oauth.active_user(box.decrypt(after.access_token)) == user.address
    with read_session(engine) as session:
        assert box.decrypt(session.get(OAuthApp, "google").secret) == registered.client_secret
