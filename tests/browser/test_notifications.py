"""Notifications in a real browser: the bell's count refreshes on its own while the open
dropdown stays open, marking read lowers the count, and /notifications is a whole page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.leads import ENGLISH
from tests.support.pages import log_in, watch_console
from tests.support.sending import make_lead, notify

pytestmark = pytest.mark.browser

POLL_SECONDS = 1


@pytest.fixture
def app_config() -> dict:
    """The bell asks every second instead of every 30 (the browser itself asks for pt-BR)."""
    return {**ENGLISH, "NOTIFICATION_POLL_SECONDS": POLL_SECONDS}


def test_the_dropdown_stays_open_while_the_badge_refreshes(
    engine, rep, live_server, page: Page
) -> None:  # type: ignore[no-untyped-def]
    problems = watch_console(page)
    lead, _ = make_lead(engine, "Joana Silva")
    notify(engine, rep, lead)
    log_in(page, live_server.url, rep.email)
    badge = page.locator("#notification-badge .badge")
    expect(badge).to_have_text("1")

    page.locator("#notifications summary").click()
    dropdown = page.locator("#notification-list")
    expect(dropdown.locator("li.unread")).to_have_count(1)
    notify(engine, rep, lead, "reply")  # arrives while the rep reads the list
    expect(badge).to_have_text("2", timeout=(POLL_SECONDS * 3 + 2) * 1000)  # a refresh ran
    page.wait_for_timeout(POLL_SECONDS * 1500)  # and another one
    expect(page.locator("#notifications")).to_have_attribute("open", "")
    expect(dropdown).to_be_visible()

    dropdown.locator("li.unread .mark-read").first.click()
    expect(badge).to_have_text("1")
    expect(page.locator("#notifications")).to_have_attribute("open", "")
    dropdown.locator(".mark-all-read").click()
    expect(badge).to_have_count(0)
    expect(dropdown.locator("li.unread")).to_have_count(0)
    assert problems == []


def test_notifications_opened_directly_are_a_whole_page(
    engine, rep, live_server, page: Page
) -> None:  # type: ignore[no-untyped-def]
    problems = watch_console(page)
    lead, _ = make_lead(engine, "Joana Silva")
    notify(engine, rep, lead, "reply")
    log_in(page, live_server.url, rep.email)
    page.goto(f"{live_server.url}/notifications")
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("main section.notification-page h1")).to_be_visible()
    expect(page.locator("main li.notification.unread")).to_contain_text("Joana Silva")
    page.locator("main .mark-read").click()
    expect(page).to_have_url(f"{live_server.url}/notifications?page=1")
    expect(page.locator("main li.notification.unread")).to_have_count(0)
    expect(page.locator("#notification-badge .badge")).to_have_count(0)
    assert problems == []
