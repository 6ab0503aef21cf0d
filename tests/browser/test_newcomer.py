"""The newcomer's path in a real browser: first-run setup, a rep, roles, the language switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.support.factories import PASSWORD

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "ana@acme.test"
REP_EMAIL = "rui@acme.test"
# Chromium reports the page we open on purpose to see its 403 as a failed load.
EXPECTED_403 = "Failed to load resource: the server responded with a status of 403"


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        unexpected_error = message.type == "error" and EXPECTED_403 not in message.text
        if unexpected_error or "Content Security Policy" in message.text:
            found.append(f"{message.text} at {where}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


def fill_setup(page: Page) -> None:
    """Complete the first-run form and send it."""
    form = page.locator("main form")
    form.locator("[name=company]").fill("Acme Ltda")
    form.locator("[name=domains]").fill("acme.test")
    form.locator("[name=name]").fill("Ana Admin")
    form.locator("[name=email]").fill(ADMIN_EMAIL)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[name=confirm]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


def add_rep(page: Page) -> None:
    """Add a sales rep on the users page."""
    form = page.locator("#new-user-form")
    form.locator("[name=name]").fill("Rui Rep")
    form.locator("[name=email]").fill(REP_EMAIL)
    form.locator("[name=role]").select_option("rep")
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[name=confirm]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#users-table")).to_contain_text(REP_EMAIL)


def log_in(page: Page, email: str) -> None:
    """Use the login form."""
    form = page.locator("main form")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


def test_newcomer_sets_up_adds_a_rep_and_the_rep_sees_only_their_settings(
    page: Page, live_server, problems
):
    base = live_server.url
    page.goto(base)
    expect(page).to_have_url(f"{base}/setup")

    fill_setup(page)
    expect(page).to_have_url(f"{base}/settings/users/")
    expect(page.locator(".usermenu .username")).to_have_text("Ana Admin")
    add_rep(page)

    page.locator(".usermenu button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/login")))
    log_in(page, REP_EMAIL)
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".usermenu .username")).to_have_text("Rui Rep")

    page.locator(".mainnav a[href='/settings/']").click()
    expect(page).to_have_url(f"{base}/settings/profile")
    panel = page.locator("nav.sidepanel")
    expect(panel.locator("a[href='/settings/profile']")).to_have_count(1)
    expect(panel.locator("a[href='/settings/company']")).to_have_count(0)
    expect(panel.locator("a[href='/settings/users/']")).to_have_count(0)

    response = page.goto(f"{base}/settings/company")
    assert response is not None and response.status == 403
    expect(page.locator("#company-form")).to_have_count(0)

    page.goto(f"{base}/settings/profile")
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")  # the browser's language
    page.locator("footer button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(re.escape(f"{base}/settings/profile")))
    expect(page.locator(".usermenu button[type=submit]")).to_have_text("Log out")
    expect(panel.locator("a[href='/settings/profile']")).to_have_text("My profile")
    expect(page.locator("footer button[value=en]")).to_have_attribute("aria-pressed", "true")

    assert problems == []
