"""The sync card of "Sobre a sincronização" against a real Dovecot: skips count once per
message."""

from __future__ import annotations

import re

import pytest

from tests.support.clients import log_in
from tests.support.mailboxes import MAILBOX_URL, at_noon_in_sao_paulo, mail_on
from tests.support.sync import connect as connect_directly
from tests.support.sync import sync

STATUS_URL = "/settings/mailbox/sync/status"
ALL_MAIL = "[Gmail]/Todos os e-mails"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def status_html(client) -> str:  # type: ignore[no-untyped-def]
    """The sync status partial as the page polls it."""
    response = client.get(STATUS_URL, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.data.decode()


def badges(html: str) -> list[str]:
    """The skip counts above the progress bars (the history repeats each round's own)."""
    counts = html[: html.index('class="progress-row"')]
    return re.findall(r'<span class="badge">([^<]*)</span>', counts)


def test_ticking_all_mail_does_not_count_the_same_skips_twice(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    owner = mailbox_user.address
    for n in range(3):  # Gmail shows every message in INBOX and in "Todos os e-mails" too
        mail = mail_on(at_noon_in_sao_paulo(3), sender="colega@acme.test", to=owner, subject=f"{n}")
        mailbox_user.append("INBOX", mail)
        mailbox_user.append(ALL_MAIL, mail)
    assert sync(app, mailbox_id).error_code is None
    client = log_in(app.test_client(), owner)
    assert badges(status_html(client)) == ["Só internos: 3"]

    client.post(f"{MAILBOX_URL}folders", data={"folders": [ALL_MAIL]})
    assert sync(app, mailbox_id).error_code is None
    html = status_html(client)
    assert ALL_MAIL in html  # the folder was synced: its progress row is shown
    assert badges(html) == ["Só internos: 3"]  # each message once, not once per folder
