"""The connect form's login (the address, or "Use another login") and the provider checklist."""

from __future__ import annotations

import re

import pytest

from dashboard.accounts.service import AccountError
from dashboard.mailboxes.providers import PROVIDERS
from dashboard.mailboxes.service import ConnectionRequest, normalized
from tests.support.mailboxes import (
    MAILBOX_URL,
    connect,
    english_client,
    mailbox_events,
    mailbox_of,
)

INVALID_CREDENTIALS = "The server refused the address or the app password."
NO_LOGIN = "Enter the login, or untick “Use another login”."


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA, as LEADSYNC_IMAP_CA_FILE does in production."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep, logged in with an English browser."""
    return english_client(app, rep.email)


def checkbox(html: str, name: str) -> str:
    """The <input> of a checkbox."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no {name} on the page"
    return match.group(0)


def checklist(html: str) -> str:
    """The provider checklist of the page."""
    match = re.search(r'<details class="checklist-details".*?</details>', html, re.S)
    assert match, "no checklist on the page"
    return match.group(0)


def is_open(details: str) -> bool:
    """True when a <details> element starts unfolded."""
    return re.match(r"<details[^>]*\bopen\b[^>]*>", details) is not None


def test_the_login_is_the_address_when_another_login_is_not_ticked(
    rep_client, rep, mailbox_user, engine
):
    response = connect(rep_client, mailbox_user, username="left-over-login")
    assert response.status_code == 302, response.data.decode()[:3000]
    assert mailbox_of(engine, rep.id).username == mailbox_user.address


def test_a_ticked_other_login_is_the_one_the_server_sees(rep_client, rep, mailbox_user, engine):
    refused = connect(rep_client, mailbox_user, other_login="y", username="someone-else")
    assert refused.status_code == 422
    assert INVALID_CREDENTIALS in refused.data.decode()
    assert mailbox_of(engine, rep.id) is None
    accepted = connect(rep_client, mailbox_user, other_login="y", username=mailbox_user.address)
    assert accepted.status_code == 302, accepted.data.decode()[:3000]


def test_ticking_another_login_without_typing_it_rerenders_with_a_message(
    rep_client, rep, mailbox_user, engine
):
    response = connect(rep_client, mailbox_user, other_login="y", username="  ")
    assert response.status_code == 422
    html = response.data.decode()
    assert f'<p class="error" id="username-error">{NO_LOGIN}</p>' in html
    assert "checked" in checkbox(html, "other_login")  # still ticked, the field still shown
    assert mailbox_of(engine, rep.id) is None
    assert mailbox_events(engine, rep.id) == []  # the server was never asked


def test_the_page_shows_a_saved_other_login_ticked_and_hides_a_login_that_is_the_address(
    rep_client, rep, mailbox_user, engine
):
    connect(rep_client, mailbox_user, other_login="y", username=mailbox_user.address.upper())
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert "checked" in checkbox(html, "other_login")
    assert f'value="{mailbox_user.address.upper()}"' in checkbox(html, "username")
    connect(rep_client, mailbox_user)
    html = rep_client.get(MAILBOX_URL).data.decode()
    assert "checked" not in checkbox(html, "other_login")
    assert "value=" not in checkbox(html, "username") or 'value=""' in checkbox(html, "username")


@pytest.mark.parametrize("provider", [k for k, p in PROVIDERS.items() if not (p.custom or p.oauth)])
def test_a_provider_login_other_than_the_address_is_kept(app, provider):
    typed = ConnectionRequest(provider, "Ana@Example.com", "app pass word", "  ana  ")
    with app.app_context():
        assert normalized(typed).username == "ana"
        assert normalized(ConnectionRequest(provider, "Ana@Example.com", "pw")).username == (
            "ana@example.com"
        )


@pytest.mark.parametrize("provider", [k for k, p in PROVIDERS.items() if p.oauth])
def test_an_oauth_provider_takes_no_password(app, provider):
    """Google (OAuth) and Microsoft 365 connect through the consent, never with a password
    (the command line and a hand-made POST included)."""
    with app.app_context(), pytest.raises(AccountError) as caught:
        normalized(ConnectionRequest(provider, "ana@example.com", "app password"))
    assert caught.value.field == "provider"


def test_the_checklist_has_each_providers_steps_and_is_open_until_connected(
    rep_client, mailbox_user
):
    html = checklist(rep_client.get(MAILBOX_URL).data.decode())
    assert is_open(html)
    for key, provider in PROVIDERS.items():
        pattern = rf'<section class="provider-help provider-help-{key}">.*?</section>'
        section = re.search(pattern, html, re.S)
        assert section, key
        for link in (provider.app_password_url, provider.imap_settings_url):
            assert link is None or f'href="{link}"' in section.group(0), (key, link)
    assert "App-Specific Passwords" in html and "imap.zoho.eu" in html and "Outlook.com" in html
    connect(rep_client, mailbox_user)
    html = checklist(rep_client.get(MAILBOX_URL).data.decode())
    assert not is_open(html)
