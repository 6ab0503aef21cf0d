"""A team with its own mail server on this machine, in a real browser: the rep's connection
is refused with the reason, the admin ticks "Permitir servidores na rede local" on "Perfil da
Empresa", and the same connection then works."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support import factories
from tests.support.pages import fill_other_imap, log_in, open_mailbox_page, watch_console

pytestmark = pytest.mark.browser

EXPECTED_STATUSES = ("Failed to load resource: the server responded with a status of 422",)


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def admin(engine):  # type: ignore[no-untyped-def]
    """A company as a fresh install has it: servers on the local network refused."""
    return factories.setup_company(engine, allow_local_servers=False)


def test_the_admin_allows_the_local_mail_server_and_the_rep_connects(
    page: Page, browser: Browser, live_server, admin, rep, mailbox_user
):  # type: ignore[no-untyped-def]
    problems = watch_console(page, EXPECTED_STATUSES)
    log_in(page, live_server.url, rep.email)
    open_mailbox_page(page, live_server.url)
    form = page.locator("#mailbox-form")
    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text(
        "127.0.0.1 fica nesta máquina ou na rede local", timeout=20_000
    )

    context = browser.new_context(locale="pt-BR")
    admin_page = context.new_page()
    admin_problems = watch_console(admin_page)
    log_in(admin_page, live_server.url, admin.email)
    admin_page.goto(f"{live_server.url}/settings/company")
    section = admin_page.locator("#network-settings-form")
    section.get_by_label("Permitir servidores na rede local").check()
    section.locator("button[type=submit]").click()
    expect(admin_page.locator("#network-settings-form")).to_contain_text("Configurações salvas.")
    admin_page.reload()
    expect(admin_page.get_by_label("Permitir servidores na rede local")).to_be_checked()
    context.close()

    fill_other_imap(page.locator("#mailbox-form"), mailbox_user)
    page.locator("#mailbox-form button[type=submit]").click()
    expect(page.locator("#mailbox-status")).to_be_visible(timeout=20_000)
    assert problems == [] and admin_problems == []
