"""Helpers for browser tests of the settings pages: console watching, login, navigation."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from tests.support.factories import PASSWORD
from tests.support.servers.dovecot import MailboxUser


def watch_console(page: Page, expected: tuple[str, ...] = ()) -> list[str]:
    """Collect the page's console errors (CSP violations included) and uncaught exceptions;
    console lines containing one of `expected` are answers provoked on purpose."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        wanted = any(text in message.text for text in expected)
        unexpected_error = message.type == "error" and not wanted
        if unexpected_error or "Content Security Policy" in message.text:
            found.append(f"{message.text} at {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


def log_in(page: Page, base: str, email: str) -> None:
    """Use the real login page."""
    page.goto(f"{base}/login")
    form = page.locator("main form")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{base}/")


def open_mailbox_page(page: Page, base: str) -> None:
    """Settings in the top bar, then "Sobre a sincronização" in the side panel."""
    page.locator(".mainnav a[href='/settings/']").click()
    page.locator("nav.sidepanel a[href='/settings/mailbox/']").click()
    expect(page).to_have_url(f"{base}/settings/mailbox/")


def fill_other_imap(form: Locator, user: MailboxUser) -> None:
    """Fill the connect form's "Outro IMAP" fields for a Dovecot user, sync only (not submitted)."""
    form.locator("input[name=provider][value=other]").check()
    form.locator("[name=address]").fill(user.address)
    form.locator("[name=password]").fill(user.password)
    form.locator("[name=imap_host]").fill("127.0.0.1")
    form.locator("[name=imap_port]").fill(str(user.server.port))
    form.locator("[name=imap_security]").select_option("tls")
    form.locator("[name=smtp_host]").fill("")  # no SMTP server: the mailbox only syncs
