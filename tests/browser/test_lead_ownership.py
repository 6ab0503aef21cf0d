"""In a real browser: a rep finds no merge or delete on a lead a teammate owns, and can open
them on their own lead; the admin finds them on the teammate's lead."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.lead_data import lead_data
from tests.support.leads import ENGLISH
from tests.support.pages import log_in, watch_console

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    """An English-speaking browser (the pages follow it)."""
    return {**browser_context_args, "locale": "en-US"}


def test_only_the_owner_or_an_admin_sees_merge_and_delete(
    engine, live_server, page: Page, browser: Browser, rep, teammate, admin
) -> None:
    with lead_data(engine) as data:
        theirs = data.lead(name="Their Lead", addresses=["theirs@client.test"], owner=teammate)
        own = data.lead(name="Own Lead", addresses=["own@client.test"], owner=rep)
    errors = watch_console(page)
    log_in(page, live_server.url, rep.email)

    page.goto(f"{live_server.url}/leads/{theirs.id}")
    expect(page.locator("#lead-title")).to_contain_text("Their Lead")
    expect(page.get_by_role("link", name="Edit")).to_be_visible()  # the page is in English
    expect(page.get_by_text("Merge or delete")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete lead")).to_have_count(0)
    expect(page.get_by_role("button", name="Merge")).to_have_count(0)

    page.goto(f"{live_server.url}/leads/{own.id}")
    page.get_by_text("Merge or delete").click()
    expect(page.get_by_role("button", name="Delete lead")).to_be_visible()
    expect(page.get_by_role("button", name="Merge")).to_be_visible()

    context = browser.new_context(locale="en-US")
    try:
        admin_page = context.new_page()
        log_in(admin_page, live_server.url, admin.email)
        admin_page.goto(f"{live_server.url}/leads/{theirs.id}")
        admin_page.get_by_text("Merge or delete").click()
        expect(admin_page.get_by_role("button", name="Delete lead")).to_be_visible()
        expect(admin_page.get_by_role("button", name="Merge")).to_be_visible()
    finally:
        context.close()
    assert errors == []
