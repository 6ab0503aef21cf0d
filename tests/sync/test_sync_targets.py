"""The sync holds every round to the address rule (dashboard/mail/targets.py): a server whose
address is no longer allowed, or whose name now resolves somewhere forbidden, is not
connected to; the name is resolved once per connection, so it cannot change in between."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from dashboard.mail.imap_client import verify
from dashboard.mail.net import ServerSettings
from tests.support.sync import (
    LEADS,
    STORED,
    MailMaker,
    append_mails,
    connect,
    set_company,
    set_mailbox,
    simple_mail,
    sync,
)

REAL_GETADDRINFO = socket.getaddrinfo
METADATA = "169.254.169.254"


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def box(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A mailbox connected (the company allows local servers) by the name "localhost"."""
    mailbox_id = connect(app, mailbox_user)
    set_mailbox(app.extensions["leadsync.engine"], mailbox_id, imap_host="localhost")
    maker, lead = MailMaker(mailbox_user.address), next(iter(LEADS.values()))[0]
    append_mails(
        mailbox_user, [simple_mail(maker, "m", sender=lead, to=mailbox_user.address, fate=STORED)]
    )
    return SimpleNamespace(user=mailbox_user, id=mailbox_id)


def resolver(answers: list[str], calls: list[str]):  # type: ignore[no-untyped-def]
    """A getaddrinfo that answers "localhost" with the next address of `answers` (the last
    one for ever after), like a DNS name an attacker re-points; other names resolve as usual."""

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "localhost":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        calls.append(host)
        address = answers[min(len(calls), len(answers)) - 1]
        return REAL_GETADDRINFO(address, port, *args, **kwargs)

    return getaddrinfo


def test_a_round_refuses_a_server_the_company_no_longer_allows(app, engine, box):  # type: ignore[no-untyped-def]
    set_company(engine, allow_local_servers=False)
    result = sync(app, box.id)
    assert result.error_code == "local_address"
    assert result.totals()["fetched"] == 0
    set_company(engine, allow_local_servers=True)  # the admin ticks the box: it syncs again
    result = sync(app, box.id)
    assert result.error_code is None
    assert result.totals()["fetched"] == 1


def test_a_round_refuses_a_name_that_now_resolves_to_a_forbidden_address(
    app, engine, box, monkeypatch
):  # type: ignore[no-untyped-def]
    calls: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", resolver([METADATA], calls))
    result = sync(app, box.id)
    assert result.error_code == "forbidden_address"
    assert calls == ["localhost"]
    assert result.totals()["fetched"] == 0


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected(
    mailbox_user, monkeypatch
):  # type: ignore[no-untyped-def]
    """A name that answers an allowed address to the check and a forbidden one a moment
    later (DNS rebinding) is connected at the address that was checked."""
    calls: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", resolver(["127.0.0.1", METADATA], calls))
    server = mailbox_user.server
    settings = ServerSettings(
        "localhost", server.port, "tls", mailbox_user.address, mailbox_user.password,
        server.ca_file, 5.0, allow_local=True,
    )  # fmt: skip
    result = verify(settings)
    assert "INBOX" in [f.name for f in result.folders]
    assert calls == ["localhost"]
