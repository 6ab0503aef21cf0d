"""Search as you type in a real browser finds a lead the real sync created, from the first
letter, by name, address or domain; one or two letters never match email text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dashboard.states import AutoCreate
from tests.support import factories
from tests.support.leads import ENGLISH
from tests.support.sync import connect, plain_email, set_company, sync

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA; English available."""
    return {**ENGLISH, "IMAP_CA_FILE": dovecot_server.ca_file}


def lead_links(page: Page):  # type: ignore[no-untyped-def]
    """The lead names in the results table."""
    return page.locator("#leads-table tbody tr td:first-child a")


def retype(page: Page, text: str) -> None:
    """Clear the search box and type, key by key, as a person does."""
    box = page.locator("#lead-q")
    box.fill("")
    box.press_sequentially(text, delay=40)


def test_typing_finds_a_synced_lead_from_the_first_letter(
    app, engine, live_server, page: Page, mailbox_user, admin
) -> None:
    set_company(engine, auto_create=AutoCreate.ALL)
    paulo = "Paulo Mendes <paulo.mendes@construtoraalfa.com.br>"
    mailbox_user.append("INBOX", plain_email(paulo, mailbox_user.address))
    mailbox_user.append(  # found by its email text only, never by one or two letters
        "INBOX", plain_email("Zélia Ramos <zelia@ramos.test>", mailbox_user.address, "Proposta")
    )
    assert sync(app, connect(app, mailbox_user)).error_code is None

    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(mailbox_user.address)
    page.locator("main form [name=password]").fill(factories.PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/leads/")
    expect(lead_links(page)).to_have_count(2)

    retype(page, "p")
    expect(lead_links(page)).to_have_text(["Paulo Mendes"])
    page.locator("#lead-q").press_sequentially("aulo.m", delay=40)
    expect(page.locator("#lead-q")).to_have_value("paulo.m")
    expect(lead_links(page)).to_have_text(["Paulo Mendes"])

    retype(page, "construtoraalfa")
    expect(lead_links(page)).to_have_text(["Paulo Mendes"])

    retype(page, "MENDES")
    expect(lead_links(page)).to_have_text(["Paulo Mendes"])

    retype(page, "pro")  # three letters: email text too
    expect(lead_links(page)).to_have_text(["Zélia Ramos"])
