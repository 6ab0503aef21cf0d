"""'Salvar' checks SMTP too: the same secret logs in on a real aiosmtpd server (TLS, STARTTLS,
AUTH) after the real Dovecot accepted it, and any SMTP failure stops the save with the
translated cause; a mailbox with no SMTP server only syncs and is not checked."""

from __future__ import annotations

import time

import pytest

from dashboard.db.engine import write_session
from dashboard.models import Mailbox
from tests.support.mailboxes import (
    MAILBOX_URL,
    add_account,
    all_mailboxes,
    ca_bundle,
    connect,
    english_client,
    mailbox_events,
    mailbox_of,
)
from tests.support.sending import make_lead
from tests.support.servers.dovecot import free_port

REFUSED_LOGIN = "refused the login, although the IMAP server accepted it."
WHY_SMTP = "LeadSync checks the SMTP server too: smart emails leave through it."


@pytest.fixture
def app_config(tmp_path, dovecot_server, smtp_certificates) -> dict:  # type: ignore[no-untyped-def]
    """Trust both test servers' CAs, as one LEADSYNC_IMAP_CA_FILE serves IMAP and SMTP."""
    bundle = ca_bundle(
        tmp_path / "cas.pem", dovecot_server.ca_file, str(smtp_certificates / "ca.pem")
    )
    return {"IMAP_CA_FILE": bundle}


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep, logged in with an English browser."""
    return english_client(app, rep.email)


@pytest.fixture
def smtp_for(make_smtp_server):  # type: ignore[no-untyped-def]
    """An SMTP server that accepts a Dovecot user's login (or another password)."""

    def make(user, password: str | None = None, security: str = "tls"):  # type: ignore[no-untyped-def]
        return make_smtp_server(
            username=user.address, password=password or user.password, security=security
        )

    return make


def smtp_fields(server, **overrides: object) -> dict:  # type: ignore[no-untyped-def]
    """The form's SMTP fields for a test server."""
    return {
        "smtp_host": server.host, "smtp_port": server.port, "smtp_security": server.security,
        **overrides,
    }  # fmt: skip


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_right_imap_and_smtp_settings_connect_and_are_stored(
    rep_client, rep, mailbox_user, engine, smtp_for, security
):
    server = smtp_for(mailbox_user, security=security)

    started = time.monotonic()
    response = connect(rep_client, mailbox_user, **smtp_fields(server))
    seconds = time.monotonic() - started

    assert response.status_code == 302, response.data.decode()[:3000]
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox.connected
    assert (mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security) == (
        "127.0.0.1", server.port, security,
    )  # fmt: skip
    assert server.messages == []  # a login, nothing sent
    assert mailbox_events(engine, rep.id)[-1].kind == "verified"
    assert seconds < 5, f"connecting took {seconds:.2f} s"
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert f"127.0.0.1:{server.port} ({security.upper()})" in html


def test_a_closed_smtp_port_fails_on_save_and_nothing_is_stored(
    rep_client, rep, mailbox_user, engine, smtp_for
):
    server, port = smtp_for(mailbox_user), free_port()

    response = connect(rep_client, mailbox_user, **smtp_fields(server, smtp_port=port))

    assert response.status_code == 422
    html = response.data.decode()
    assert f"127.0.0.1 refused the connection on port {port}." in html
    assert WHY_SMTP in html and 'id="mailbox-failure"' in html
    assert f'value="{port}"' in html  # the form comes back as typed
    assert all_mailboxes(engine) == []
    assert [(e.kind, e.code) for e in mailbox_events(engine, rep.id)] == [
        ("smtp_verify_failed", "connection_refused")
    ]


def test_an_unknown_smtp_host_fails_on_save(rep_client, rep, mailbox_user, engine):
    response = connect(
        rep_client, mailbox_user, smtp_host="smtp.invalid", smtp_port=465, smtp_security="tls"
    )

    assert response.status_code == 422
    assert "The server name smtp.invalid (port 465) could not be found." in response.data.decode()
    assert all_mailboxes(engine) == []


def test_tls_to_a_starttls_smtp_port_fails_with_the_tls_message(
    rep_client, mailbox_user, engine, smtp_for
):
    server = smtp_for(mailbox_user, security="starttls")

    response = connect(rep_client, mailbox_user, **smtp_fields(server, smtp_security="tls"))

    assert response.status_code == 422
    assert f"The secure connection (TLS) to 127.0.0.1:{server.port} failed." in (
        response.data.decode()
    )
    assert all_mailboxes(engine) == []


def test_an_smtp_server_that_refuses_the_secret_fails_with_the_auth_message(
    rep_client, rep, mailbox_user, engine, smtp_for
):
    server = smtp_for(mailbox_user, password="another-secret-for-smtp")

    response = connect(rep_client, mailbox_user, **smtp_fields(server))

    assert response.status_code == 422
    html = response.data.decode()
    assert f"The SMTP server 127.0.0.1:{server.port} {REFUSED_LOGIN}" in html
    assert mailbox_user.password not in html
    assert all_mailboxes(engine) == []
    (event,) = mailbox_events(engine, rep.id)
    assert (event.kind, event.code) == ("smtp_verify_failed", "auth_failed")
    assert "535" in event.detail and mailbox_user.password not in event.detail


def test_a_failed_smtp_check_leaves_the_saved_connection_as_it_was(
    rep_client, rep, mailbox_user, engine, smtp_for
):
    server = smtp_for(mailbox_user)
    assert connect(rep_client, mailbox_user, **smtp_fields(server)).status_code == 302
    before = mailbox_of(engine, rep.id)

    response = connect(rep_client, mailbox_user, **smtp_fields(server, smtp_port=free_port()))

    assert response.status_code == 422
    after = mailbox_of(engine, rep.id)
    assert (after.smtp_port, after.secret, after.status) == (
        before.smtp_port, before.secret, "connected",
    )  # fmt: skip


def test_no_smtp_server_means_a_mailbox_that_only_syncs(rep_client, rep, mailbox_user, engine):
    response = connect(rep_client, mailbox_user, smtp_host="", smtp_port=465)

    assert response.status_code == 302, response.data.decode()[:3000]
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox.connected
    assert (mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security) == (None, None, None)
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert "Leave empty to only sync: smart emails need it." in html
    assert '<dd class="smtp-server">none: this mailbox only syncs</dd>' in html


def test_a_mailbox_that_only_syncs_cannot_send_and_compose_says_so(
    app, rep_client, rep, mailbox_user, engine
):
    assert connect(rep_client, mailbox_user).status_code == 302
    with write_session(engine) as session:
        assert session.get(Mailbox, mailbox_of(engine, rep.id).id).smtp_host is None
    lead, address = make_lead(engine, "Ivo Reis")
    response = rep_client.post(
        f"/leads/{lead.id}/compose",
        data={"to": address, "subject": "Oi", "body": "Olá", "template": ""},
    )
    assert response.status_code == 422
    assert "Your mailbox only syncs: add its outgoing (SMTP) server" in response.data.decode()


# --- the command line -------------------------------------------------------------------


def test_accounts_add_checks_smtp_with_its_flags(app, rep, mailbox_user, engine, smtp_for):
    server = smtp_for(mailbox_user, security="starttls")

    result = add_account(
        app, rep.email, mailbox_user,
        smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="starttls",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"SMTP: 127.0.0.1:{server.port}." in result.output
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security) == (
        "127.0.0.1", server.port, "starttls",
    )  # fmt: skip


def test_accounts_add_with_a_wrong_smtp_port_exits_non_zero_and_saves_nothing(
    app, rep, mailbox_user, engine, smtp_for
):
    smtp_for(mailbox_user)
    port = free_port()

    result = add_account(
        app, rep.email, mailbox_user, smtp_host="127.0.0.1", smtp_port=port, smtp_security="tls"
    )

    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: SMTP connection_refused") and f"127.0.0.1:{port}" in line
    assert mailbox_user.password not in result.output
    assert all_mailboxes(engine) == []


def test_accounts_add_with_a_refused_smtp_secret_is_an_auth_error(
    app, rep, mailbox_user, engine, smtp_for
):
    server = smtp_for(mailbox_user, password="another-secret-for-smtp")

    result = add_account(
        app, rep.email, mailbox_user,
        smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="tls",
    )  # fmt: skip

    assert result.exit_code != 0 and "Error: SMTP auth_failed" in result.output
    assert all_mailboxes(engine) == []
