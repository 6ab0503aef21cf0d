"""Mailbox settings cannot make LeadSync probe the network: link-local and metadata addresses
are refused outright, this machine and the local network until an admin allows them, and
nothing a non-mail service answered is stored or shown (dashboard/mail/targets.py)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from dashboard.db.engine import write_session
from dashboard.models import Mailbox
from tests.support import factories
from tests.support.mailboxes import (
    MAILBOX_URL,
    all_mailboxes,
    company,
    connect,
    english_client,
    mailbox_events,
    mailbox_of,
)
from tests.support.servers.banner import SECRET, banner_server

NETWORK_URL = "/settings/company/network"
HTMX = {"HX-Request": "true"}
LOCAL_REFUSED = "is on this machine or the local network, where LeadSync connects only if"
FORBIDDEN = "LeadSync never connects to"
NOT_MAIL = "but not a mail server."


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def admin(engine):  # type: ignore[no-untyped-def]
    """A company as a fresh install has it: servers on the local network refused."""
    return factories.setup_company(engine, allow_local_servers=False)


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep, logged in with an English browser."""
    return english_client(app, rep.email)


@pytest.fixture
def admin_client(app, admin):  # type: ignore[no-untyped-def]
    """The admin, logged in with an English browser."""
    return english_client(app, admin.email)


@pytest.fixture
def listener() -> Iterator[tuple[int, socket.socket]]:
    """A port on 127.0.0.1 that records whether anyone knocked."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server.getsockname()[1], server


def knocked(server: socket.socket) -> bool:
    """True when a connection reached the listener."""
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def allow_local_servers(admin_client, allowed: bool = True):  # type: ignore[no-untyped-def]
    """The admin ticks (or unticks) the setting on the company profile."""
    return admin_client.post(NETWORK_URL, data={"allow_local_servers": "y"} if allowed else {})


def database_text(app) -> str:  # type: ignore[no-untyped-def]
    """Every row of every table, as SQL text."""
    with sqlite3.connect(Path(app.instance_path) / "leadsync.db") as conn:
        return "\n".join(conn.iterdump())


# --- this machine and the local network ----------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.8.9.10"])
def test_a_server_on_this_machine_is_refused_without_being_contacted(
    rep_client, rep, mailbox_user, engine, listener, host
):  # type: ignore[no-untyped-def]
    port, server = listener
    response = connect(rep_client, mailbox_user, imap_host=host, imap_port=port)
    assert response.status_code == 422
    assert f"{host} {LOCAL_REFUSED}" in response.data.decode()
    assert not knocked(server)
    assert all_mailboxes(engine) == []
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["local_address"]


def test_once_an_admin_allows_local_servers_the_same_mailbox_connects(
    rep_client, rep, admin_client, mailbox_user, engine
):  # type: ignore[no-untyped-def]
    assert connect(rep_client, mailbox_user).status_code == 422
    response = allow_local_servers(admin_client)
    assert response.status_code == 200 and "Settings saved." in response.data.decode()
    assert company(engine).allow_local_servers is True
    assert connect(rep_client, mailbox_user).status_code == 302
    assert mailbox_of(engine, rep.id).status == "connected"


def test_a_fresh_install_refuses_local_servers(app, client):  # type: ignore[no-untyped-def]
    client.post(
        "/setup",
        data={"company": "Acme", "domains": "acme.test", "name": "Ana", "email": "ana@acme.test",
              "password": factories.PASSWORD, "confirm": factories.PASSWORD},
    )  # fmt: skip
    assert company(app.extensions["leadsync.engine"]).allow_local_servers is False


def test_the_setting_is_for_admins_only(rep_client, admin, engine):  # type: ignore[no-untyped-def]
    assert allow_local_servers(rep_client).status_code == 403
    assert company(engine).allow_local_servers is False


def test_the_setting_is_on_the_company_profile_and_audited(admin_client, engine):  # type: ignore[no-untyped-def]
    html = admin_client.get("/settings/company").data.decode()
    assert 'id="network-settings-form"' in html
    assert "Allow mail servers on the local network" in html
    response = admin_client.post(NETWORK_URL, data={"allow_local_servers": "y"}, headers=HTMX)
    assert response.data.decode().lstrip().startswith("<form")
    allow_local_servers(admin_client, allowed=False)
    assert company(engine).allow_local_servers is False
    html = admin_client.get("/settings/company").data.decode()
    assert html.count("Allow mail servers on the local network") >= 2  # form and change log


def test_the_setting_needs_the_csrf_token(admin_client, engine):  # type: ignore[no-untyped-def]
    response = admin_client.post(NETWORK_URL, data={"allow_local_servers": "y"}, csrf=False)
    assert response.status_code == 400
    assert company(engine).allow_local_servers is False


# --- never: link-local, metadata, reserved ---------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "169.254.1.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254",
     "0.0.0.0", "224.0.0.1", "240.0.0.1"],  # noqa: S104
)  # fmt: skip
def test_link_local_metadata_and_reserved_addresses_are_refused_even_when_local_is_allowed(
    rep_client, rep, admin_client, mailbox_user, engine, host
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    response = connect(rep_client, mailbox_user, imap_host=host, imap_port=993)
    assert response.status_code == 422
    assert FORBIDDEN in response.data.decode()
    assert [e.code for e in mailbox_events(engine, rep.id)] == ["forbidden_address"]
    assert all_mailboxes(engine) == []


def test_the_smtp_server_is_held_to_the_same_rule(
    rep_client, rep, admin_client, mailbox_user, engine
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    response = connect(
        rep_client, mailbox_user, smtp_host="169.254.169.254", smtp_port=587,
        smtp_security="starttls",
    )  # fmt: skip
    assert response.status_code == 422
    assert FORBIDDEN in response.data.decode()
    events = mailbox_events(engine, rep.id)
    assert [(e.kind, e.code) for e in events] == [("smtp_verify_failed", "forbidden_address")]
    assert all_mailboxes(engine) == []


def test_test_connection_refuses_a_server_on_this_machine_once_the_setting_is_off(
    rep_client, rep, admin_client, mailbox_user, engine
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    assert connect(rep_client, mailbox_user).status_code == 302
    allow_local_servers(admin_client, allowed=False)
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert LOCAL_REFUSED in response.data.decode()
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.status, mailbox.last_error_code) == ("error", "local_address")


# --- no banner of whatever answered ----------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "none", "tls"])
def test_a_non_imap_service_is_told_apart_but_its_banner_is_kept_nowhere(
    app, rep_client, rep, admin_client, mailbox_user, engine, security
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    with banner_server() as port:
        response = connect(rep_client, mailbox_user, imap_port=port, imap_security=security)
    html = response.data.decode()
    assert response.status_code == 422
    assert SECRET not in html and "OpenSSH" not in html
    codes = [e.code for e in mailbox_events(engine, rep.id)]
    assert codes == (["tls_failed"] if security == "tls" else ["not_mail_server"])
    if security != "tls":
        assert f"Something answered at 127.0.0.1:{port}, {NOT_MAIL}" in html
    assert SECRET not in database_text(app)


def test_a_non_smtp_service_leaves_no_banner_either(
    app, rep_client, rep, admin_client, mailbox_user, engine
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    with banner_server() as port:
        response = connect(
            rep_client, mailbox_user, smtp_host="127.0.0.1", smtp_port=port,
            smtp_security="starttls",
        )  # fmt: skip
    html = response.data.decode()
    assert response.status_code == 422
    assert NOT_MAIL in html and SECRET not in html
    events = mailbox_events(engine, rep.id)
    assert [(e.kind, e.code) for e in events] == [("smtp_verify_failed", "not_mail_server")]
    assert SECRET not in database_text(app)


def test_test_connection_against_a_non_imap_service_stores_no_banner(
    app, rep_client, rep, admin_client, mailbox_user, engine
):  # type: ignore[no-untyped-def]
    allow_local_servers(admin_client)
    assert connect(rep_client, mailbox_user).status_code == 302
    with banner_server() as port:
        with write_session(engine) as session:
            row = session.exec(select(Mailbox).where(Mailbox.user_id == rep.id)).one()
            row.imap_port, row.imap_security = port, "starttls"
            session.add(row)
        response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert NOT_MAIL in response.data.decode() and SECRET not in response.data.decode()
    assert mailbox_of(engine, rep.id).last_error_code == "not_mail_server"
    assert SECRET not in rep_client.get(MAILBOX_URL).data.decode()
    assert SECRET not in database_text(app)
