"""'Sobre a sincronização' against a real Dovecot: connect, refuse, test, disconnect, folders."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import imapclient
import pytest
from sqlmodel import select

from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.models import Mailbox
from tests.support import factories
from tests.support.mailboxes import (
    MAILBOX_URL,
    all_mailboxes,
    audit_events,
    connect,
    connect_form,
    english_client,
    mailbox_events,
    mailbox_of,
)
from tests.support.servers.dovecot import free_port, new_user

GMAIL_SENT = "[Gmail]/E-mails enviados"
ALL_MAIL = "[Gmail]/Todos os e-mails"
INVALID_CREDENTIALS = "The server refused the address or the app password."
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA, as LEADSYNC_IMAP_CA_FILE does in production."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep, logged in with an English browser."""
    return english_client(app, rep.email)


@pytest.fixture
def admin_client(app, admin):  # type: ignore[no-untyped-def]
    """The admin, logged in with an English browser."""
    return english_client(app, admin.email)


@pytest.fixture
def connected(rep_client, rep, mailbox_user, engine):  # type: ignore[no-untyped-def]
    """The rep's mailbox connected to the session Dovecot; returns the stored row."""
    response = connect(rep_client, mailbox_user)
    assert response.status_code == 302, response.data.decode()[:3000]
    return mailbox_of(engine, rep.id)


def status_card(html: str) -> str:
    """The #mailbox-status fragment of a page."""
    match = re.search(r'<div id="mailbox-status".*?<div class="actions">', html, re.S)
    assert match, "no mailbox status on the page"
    return match.group(0)


def password_inputs(html: str) -> list[str]:
    """Every password input of a page."""
    return re.findall(r'<input[^>]*type="password"[^>]*>', html)


def test_correct_app_password_connects_and_finds_the_localized_sent_folder_by_flag(
    rep_client, rep, mailbox_user, engine
):
    response = connect(rep_client, mailbox_user)
    assert response.status_code == 302, response.data.decode()[:3000]
    assert response.headers["Location"] == MAILBOX_URL
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox is not None and mailbox.connected
    assert mailbox.status == "connected"
    assert mailbox.address == mailbox_user.address
    assert (mailbox.sent_folder, mailbox.sent_found_by) == (GMAIL_SENT, "flag")
    assert mailbox.folders == ["INBOX", GMAIL_SENT]
    assert mailbox.verified_at is not None


def test_available_folders_leave_out_trash_spam_drafts_and_the_noselect_parent(connected):
    assert set(connected.available_folders) == {"INBOX", GMAIL_SENT, ALL_MAIL}
    for never in ("[Gmail]/Lixeira", "[Gmail]/Spam", "[Gmail]/Rascunhos", "[Gmail]"):
        assert never not in connected.available_folders


def test_page_shows_the_connection_with_an_empty_password_field(
    rep_client, connected, mailbox_user
):
    html = rep_client.get(MAILBOX_URL).data.decode()
    card = status_card(html)
    assert mailbox_user.address in card
    assert f"INBOX, {GMAIL_SENT}" in card
    assert '<span class="badge badge-ok">Connected</span>' in card
    assert f"127.0.0.1:{mailbox_user.server.port} (TLS)" in card
    assert "Mailbox connected." in html  # the flash after the redirect
    inputs = password_inputs(html)
    assert len(inputs) == 1 and 'name="password"' in inputs[0]
    assert 'value=""' in inputs[0] or "value=" not in inputs[0]
    assert "••• saved. Leave empty to keep it." in html
    assert mailbox_user.password not in html


def test_wrong_password_rerenders_with_the_invalid_credentials_message_and_saves_nothing(
    rep_client, rep, mailbox_user, engine
):
    wrong = "wrongwrongwrongx"
    response = connect(rep_client, mailbox_user, password=wrong)
    assert response.status_code == 422
    html = response.data.decode()
    assert 'id="mailbox-failure"' in html
    assert INVALID_CREDENTIALS in html
    assert wrong not in html
    assert all_mailboxes(engine) == []
    events = mailbox_events(engine, rep.id)
    assert [(e.kind, e.code) for e in events] == [("verify_failed", "auth_failed")]
    assert "AUTHENTICATIONFAILED" in events[0].detail  # the raw answer, for admins
    assert wrong not in events[0].detail
    assert mailbox_user.password not in events[0].detail


def test_failed_save_under_htmx_returns_the_form_with_the_message(rep_client, mailbox_user):
    response = rep_client.post(
        MAILBOX_URL,
        data=connect_form(mailbox_user, password="nopenopenopenope"),
        headers=HTMX,
    )
    assert response.status_code == 422
    html = response.data.decode()
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert INVALID_CREDENTIALS in html


def test_successful_save_under_htmx_loads_the_whole_page_with_the_status(
    rep_client, rep, mailbox_user, engine
):
    response = rep_client.post(MAILBOX_URL, data=connect_form(mailbox_user), headers=HTMX)
    assert mailbox_of(engine, rep.id).connected
    if "HX-Redirect" in response.headers:  # htmx then loads the whole page
        shown = rep_client.get(response.headers["HX-Redirect"])
    else:  # the browser's XHR follows a 302 keeping HX-Request, and htmx swaps the result
        assert response.status_code == 302
        shown = rep_client.get(response.headers["Location"], headers=HTMX)
    html = shown.data.decode()
    assert 'id="mailbox-status"' in html, "after saving, the swapped-in HTML hides the status"
    assert '<span class="badge badge-ok">Connected</span>' in html


def test_sent_folder_without_flag_is_found_by_name_and_the_page_says_so(
    app, rep_client, rep, engine, make_dovecot
):
    server = make_dovecot("no_special_use")
    user = new_user(server)
    app.config["IMAP_CA_FILE"] = server.ca_file
    response = connect(rep_client, user)
    assert response.status_code == 302, response.data.decode()[:3000]
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.sent_folder, mailbox.sent_found_by) == ("Enviados", "name")
    assert mailbox.folders == ["INBOX", "Enviados"]
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert "does not mark its Sent folder; we use “Enviados” because of its name" in html


def test_closed_port_shows_connection_refused_naming_host_and_port(
    rep_client, rep, mailbox_user, engine
):
    port = free_port()
    response = connect(rep_client, mailbox_user, imap_port=port)
    assert response.status_code == 422
    html = response.data.decode()
    assert f"127.0.0.1 refused the connection on port {port}." in html
    assert all_mailboxes(engine) == []
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["connection_refused"]


def test_unknown_certificate_shows_the_certificate_message(
    app, rep_client, rep, mailbox_user, engine
):
    app.config["IMAP_CA_FILE"] = None  # only the system CA store: the test CA is unknown
    response = connect(rep_client, mailbox_user)
    assert response.status_code == 422
    html = response.data.decode()
    port = mailbox_user.server.port
    assert f"The security certificate of 127.0.0.1:{port} could not be verified." in html
    assert all_mailboxes(engine) == []
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["tls_certificate"]


def test_tls_to_a_plain_port_shows_the_tls_message(rep_client, mailbox_user, engine):
    port = mailbox_user.server.starttls_port  # speaks plain IMAP first
    response = connect(rep_client, mailbox_user, imap_port=port, imap_security="tls")
    assert response.status_code == 422
    assert f"The secure connection (TLS) to 127.0.0.1:{port} failed." in response.data.decode()
    assert all_mailboxes(engine) == []


def test_starttls_security_connects_on_the_starttls_port(rep_client, rep, mailbox_user, engine):
    port = mailbox_user.server.starttls_port
    response = connect(rep_client, mailbox_user, imap_port=port, imap_security="starttls")
    assert response.status_code == 302, response.data.decode()[:3000]
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.imap_port, mailbox.imap_security) == (port, "starttls")
    assert mailbox.sent_folder == GMAIL_SENT


def test_a_server_that_never_answers_shows_the_timeout_message(
    app, rep_client, rep, mailbox_user, engine
):
    app.config["IMAP_TIMEOUT"] = 1
    with socket.socket() as silent:  # accepts TCP (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        response = connect(rep_client, mailbox_user, imap_port=port)
    assert response.status_code == 422
    assert f"127.0.0.1:{port} did not answer within 1 seconds." in response.data.decode()
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["timeout"]
    assert all_mailboxes(engine) == []


def test_a_slow_server_does_not_hold_the_database_while_it_is_checked(
    app, rep_client, rep, mailbox_user, engine
):
    """The sync and other requests can still write while a verification waits."""
    app.config["IMAP_TIMEOUT"] = 3
    database = Path(app.instance_path) / "leadsync.db"
    with socket.socket() as silent:  # accepts TCP (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        answers = []
        posting = threading.Thread(
            target=lambda: answers.append(connect(rep_client, mailbox_user, imap_port=port))
        )
        posting.start()
        time.sleep(1)  # the request is waiting for the server's greeting now
        with sqlite3.connect(database, timeout=0.5, isolation_level=None) as other_writer:
            other_writer.execute("BEGIN IMMEDIATE")  # "database is locked" if still held
            other_writer.execute("ROLLBACK")
        posting.join(10)
    assert answers and answers[0].status_code == 422
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["timeout"]


def test_spaces_in_the_app_password_are_stripped(app, rep_client, rep, mailbox_user, engine):
    p = mailbox_user.password
    spaced = f" {p[:4]} {p[4:8]} {p[8:12]} {p[12:]} "
    response = connect(rep_client, mailbox_user, password=spaced)
    assert response.status_code == 302, response.data.decode()[:3000]
    mailbox = mailbox_of(engine, rep.id)
    box: SecretBox = app.extensions["leadsync.secrets"]
    assert box.decrypt(mailbox.secret) == p


def test_plain_imap_to_a_remote_host_is_refused_without_contacting_it(
    rep_client, rep, mailbox_user, engine, monkeypatch
):
    contacted: list[object] = []

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        contacted.append(args)
        raise AssertionError("the server must not be contacted")

    monkeypatch.setattr(imapclient, "IMAPClient", refuse)
    monkeypatch.setattr("socket.create_connection", refuse)
    monkeypatch.setattr("socket.getaddrinfo", refuse)
    response = connect(
        rep_client, mailbox_user, imap_host="imap.example.com", imap_port=143, imap_security="none"
    )
    assert response.status_code == 422
    html = response.data.decode()
    assert "Unencrypted connections are only allowed to this machine" in html
    assert contacted == []
    assert all_mailboxes(engine) == []
    assert mailbox_events(engine, rep.id) == []


@pytest.fixture
def no_network(monkeypatch):  # type: ignore[no-untyped-def]
    """Fail the test if anything tries to reach a mail server."""

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"contacted {args[:2]}")

    monkeypatch.setattr(imapclient, "IMAPClient", refuse)
    monkeypatch.setattr("socket.create_connection", refuse)


def test_gmail_with_an_invalid_address_is_refused_next_to_the_field(
    rep_client, rep, engine, no_network
):
    form = {"provider": "gmail", "address": "not an address", "password": "abcd efgh ijkl mnop"}
    response = rep_client.post(MAILBOX_URL, data=form)
    assert response.status_code == 422
    html = response.data.decode()
    assert '<p class="error" id="address-error">Enter a valid email address.</p>' in html
    assert mailbox_of(engine, rep.id) is None


def test_an_empty_password_without_a_saved_one_is_refused(rep_client, rep, engine, no_network):
    form = {"provider": "gmail", "address": "rep@gmail.com", "password": "   "}
    response = rep_client.post(MAILBOX_URL, data=form)
    assert response.status_code == 422
    assert 'id="password-error">Enter the app password.</p>' in response.data.decode()
    assert mailbox_of(engine, rep.id) is None


def test_test_connection_under_htmx_returns_the_status_partial_with_success(
    rep_client, rep, connected, engine
):
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert response.status_code == 200
    html = response.data.decode()
    assert html.lstrip().startswith('<div id="mailbox-status"') and "<html" not in html
    assert "Connection tested: everything works." in html
    assert '<span class="badge badge-ok">Connected</span>' in html
    assert mailbox_events(engine, rep.id)[-1].kind == "verified"
    assert mailbox_of(engine, rep.id).status == "connected"


def test_test_connection_failure_shows_the_error_in_the_partial(rep_client, rep, connected, engine):
    port = free_port()
    with write_session(engine) as session:
        row = session.exec(select(Mailbox).where(Mailbox.user_id == rep.id)).one()
        row.imap_port = port
        session.add(row)
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert response.status_code == 200
    html = response.data.decode()
    assert html.lstrip().startswith('<div id="mailbox-status"')
    assert f"127.0.0.1 refused the connection on port {port}." in html
    assert '<span class="badge badge-error">Error</span>' in html
    assert "everything works" not in html
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.status, mailbox.last_error_code) == ("error", "connection_refused")
    assert mailbox.connected  # a failed test keeps the secret: the outage may pass


def test_test_connection_needs_the_csrf_token(rep_client, rep, connected, engine):
    before = len(mailbox_events(engine, rep.id))
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX, csrf=False)
    assert response.status_code in (302, 400)
    assert len(mailbox_events(engine, rep.id)) == before


def test_disconnect_removes_the_secret_and_keeps_the_row(rep_client, rep, connected, engine):
    response = rep_client.post(f"{MAILBOX_URL}disconnect")
    assert response.status_code == 302
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox is not None and mailbox.id == connected.id
    assert mailbox.secret is None
    assert mailbox.status == "disconnected"
    assert [e.action for e in audit_events(engine)][-1] == "mailboxes.disconnect"
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert 'id="mailbox-status"' not in html
    assert "Connect your mailbox" in html


def test_disconnect_without_csrf_changes_nothing(rep_client, rep, connected, engine):
    rep_client.post(f"{MAILBOX_URL}disconnect", csrf=False)
    assert mailbox_of(engine, rep.id).connected


def test_connecting_again_updates_the_same_row(rep_client, rep, connected, dovecot_server, engine):
    other = new_user(dovecot_server)
    response = connect(rep_client, other)
    assert response.status_code == 302, response.data.decode()[:3000]
    rows = all_mailboxes(engine)
    assert len(rows) == 1
    assert (rows[0].id, rows[0].address) == (connected.id, other.address)


def test_saving_again_with_an_empty_password_keeps_the_saved_one(
    app, rep_client, rep, connected, mailbox_user, engine
):
    response = connect(rep_client, mailbox_user, password="")
    assert response.status_code == 302, response.data.decode()[:3000]
    box: SecretBox = app.extensions["leadsync.secrets"]
    assert box.decrypt(mailbox_of(engine, rep.id).secret) == mailbox_user.password


def test_another_user_cannot_connect_the_same_address(app, rep, connected, mailbox_user, engine):
    second = factories.make_user(engine, role="rep")
    client = english_client(app, second.email)
    response = connect(client, mailbox_user)
    assert response.status_code == 422
    assert "Another user already connected this mailbox." in response.data.decode()
    assert mailbox_of(engine, second.id) is None
    assert mailbox_of(engine, rep.id).connected


def test_the_same_address_in_other_case_is_refused_too(app, rep, connected, mailbox_user, engine):
    second = factories.make_user(engine, role="rep")
    client = english_client(app, second.email)
    response = connect(client, mailbox_user, address=mailbox_user.address.upper())
    assert response.status_code == 422
    assert mailbox_of(engine, second.id) is None


def test_a_disconnected_address_can_be_connected_by_someone_else(
    app, rep_client, rep, connected, mailbox_user, engine
):
    rep_client.post(f"{MAILBOX_URL}disconnect")
    second = factories.make_user(engine, role="rep")
    response = connect(english_client(app, second.email), mailbox_user)
    assert response.status_code == 302, response.data.decode()[:3000]
    assert mailbox_of(engine, second.id).connected


def test_ticked_folders_are_added_and_unknown_ones_ignored(rep_client, rep, connected, engine):
    chosen = [ALL_MAIL, "[Gmail]/Lixeira", "Invented", "INBOX"]
    response = rep_client.post(f"{MAILBOX_URL}folders", data={"folders": chosen})
    assert response.status_code == 302
    assert mailbox_of(engine, rep.id).folders == ["INBOX", GMAIL_SENT, ALL_MAIL]
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert f"INBOX, {GMAIL_SENT}, {ALL_MAIL}" in status_card(html)


def test_extra_folders_survive_a_test_connection(rep_client, rep, connected, engine):
    rep_client.post(f"{MAILBOX_URL}folders", data={"folders": [ALL_MAIL]})
    rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert mailbox_of(engine, rep.id).folders == ["INBOX", GMAIL_SENT, ALL_MAIL]


def test_unticking_everything_keeps_inbox_and_sent(rep_client, rep, connected, engine):
    rep_client.post(f"{MAILBOX_URL}folders", data={"folders": [ALL_MAIL]})
    rep_client.post(f"{MAILBOX_URL}folders", data={})
    assert mailbox_of(engine, rep.id).folders == ["INBOX", GMAIL_SENT]


def test_admin_sees_every_users_connection_status_but_no_password(
    app, admin_client, rep, connected, mailbox_user, engine
):
    idle = factories.make_user(engine, role="rep")
    html = admin_client.get("/settings/users/").data.decode()
    rows = dict(
        re.findall(
            r"<td[^>]*>([^<]+@acme\.test)</td>.*?<td class=\"mailbox-cell\"[^>]*>(.*?)</td>",
            html,
            re.S,
        )
    )
    assert mailbox_user.address in rows[rep.email]
    assert '<span class="badge badge-ok">Connected</span>' in rows[rep.email]
    assert "Not connected" in rows[idle.email]
    assert mailbox_user.password not in html
    edit = admin_client.get(f"/settings/users/{rep.id}").data.decode()
    assert mailbox_user.password not in edit
    box: SecretBox = app.extensions["leadsync.secrets"]
    assert box.decrypt(connected.secret) == mailbox_user.password  # the token itself...
    assert connected.secret.decode() not in html + edit  # ...is never shown either


def test_no_route_lets_anyone_address_another_users_mailbox(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("mailbox."):
            assert not rule.arguments, f"{rule.rule} takes {rule.arguments}"
        if rule.endpoint.startswith("users."):
            assert "mailbox" not in rule.rule and "secret" not in rule.rule, rule.rule


def test_admin_mailbox_actions_touch_only_the_admins_own_mailbox(
    admin_client, rep, connected, engine
):
    admin_client.post(f"{MAILBOX_URL}disconnect")
    admin_client.post(f"{MAILBOX_URL}folders", data={"folders": [ALL_MAIL]})
    admin_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox.connected and mailbox.folders == ["INBOX", GMAIL_SENT]
    assert len(all_mailboxes(engine)) == 1


def test_anonymous_visitors_go_to_login(client, admin):
    response = client.get(MAILBOX_URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
