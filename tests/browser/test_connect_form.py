"""The connect form in a real browser: the checklist follows the provider, the login field
shows on "Usar outro login", with and without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.mailboxes.providers import PROVIDERS
from tests.support.mailboxes import mailbox_of
from tests.support.pages import fill_other_imap, log_in, open_mailbox_page, watch_console

pytestmark = pytest.mark.browser

EXPECTED_STATUSES = ("Failed to load resource: the server responded with a status of 422",)


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA, as LEADSYNC_IMAP_CA_FILE does in production."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def expect_only_the_steps_of(page: Page, chosen: str) -> None:
    """The checklist shows the chosen provider's section and hides the others."""
    for key in PROVIDERS:
        section = page.locator(f".provider-help-{key}")
        if key == chosen:
            expect(section).to_be_visible()
        else:
            expect(section).to_be_hidden()


def test_the_checklist_follows_the_provider_and_folds_away_once_connected(
    page: Page, live_server, rep, mailbox_user, engine
):
    problems = watch_console(page, EXPECTED_STATUSES)
    log_in(page, live_server.url, rep.email)
    open_mailbox_page(page, live_server.url)
    details = page.locator("details.checklist-details")
    expect(details).to_have_attribute("open", "")
    expect_only_the_steps_of(page, "gmail")
    expect(page.locator(".provider-help-gmail")).to_contain_text("Senhas de app")
    for key in ("yahoo", "icloud", "zoho", "other", "gmail"):
        page.locator(f"#mailbox-form input[name=provider][value={key}]").check()
        expect_only_the_steps_of(page, key)

    fill_other_imap(page.locator("#mailbox-form"), mailbox_user)
    expect_only_the_steps_of(page, "other")
    page.locator("#mailbox-form button[type=submit]").click()
    expect(page.locator("#mailbox-status")).to_be_visible(timeout=20_000)
    expect(details).not_to_have_attribute("open", "")
    expect(page.locator("#checklist-title")).to_be_visible()  # one click away
    expect(page.locator(".provider-help-other")).to_be_hidden()
    page.locator("#checklist-title").click()
    expect(page.locator(".provider-help-other")).to_be_visible()  # the saved provider's
    assert problems == []


def test_another_login_is_one_tick_away_and_required_once_ticked(
    page: Page, live_server, rep, mailbox_user, engine
):
    problems = watch_console(page, EXPECTED_STATUSES)
    log_in(page, live_server.url, rep.email)
    open_mailbox_page(page, live_server.url)
    form = page.locator("#mailbox-form")
    expect(form.locator("label[for=address]")).to_have_text("Nome de Usuário (seu e-mail)")
    login = form.locator("[name=username]")
    expect(login).to_be_hidden()
    form.get_by_label("Usar outro login").check()
    expect(login).to_be_visible()

    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()
    expect(page.locator("#username-error")).to_have_text(
        "Informe o login ou desmarque “Usar outro login”."
    )
    expect(page.locator("#mailbox-form [name=username]")).to_be_visible()
    assert mailbox_of(engine, rep.id) is None

    page.locator("#mailbox-form [name=username]").fill(mailbox_user.address)
    page.locator("#mailbox-form [name=password]").fill(mailbox_user.password)
    page.locator("#mailbox-form button[type=submit]").click()
    expect(page.locator("#mailbox-status")).to_be_visible(timeout=20_000)
    assert mailbox_of(engine, rep.id).username == mailbox_user.address
    assert problems == []


def test_without_javascript_the_checklist_and_the_login_field_still_follow_the_form(
    browser: Browser, live_server, rep, mailbox_user, engine
):
    context = browser.new_context(java_script_enabled=False, locale="pt-BR")
    page = context.new_page()
    log_in(page, live_server.url, rep.email)
    open_mailbox_page(page, live_server.url)
    page.locator("#mailbox-form input[name=provider][value=icloud]").check()
    expect_only_the_steps_of(page, "icloud")
    form = page.locator("#mailbox-form")
    form.get_by_label("Usar outro login").check()
    expect(form.locator("[name=username]")).to_be_visible()
    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()  # a plain POST: the whole page comes back
    expect(page.locator("#username-error")).to_be_visible()
    expect_only_the_steps_of(page, "other")
    context.close()


def test_a_rejected_form_swaps_in_without_writing_style_attributes(
    page: Page, live_server, rep, mailbox_user
):
    """htmx copies "settle" attributes from the old fields to the new ones; with `style`
    among them, any field the browser (autofill, an extension) gave a style attribute made
    the 422 swap violate the CSP (`style-src 'self'`): 16 violations in a walk-through."""
    problems = watch_console(page, EXPECTED_STATUSES)
    log_in(page, live_server.url, rep.email)
    open_mailbox_page(page, live_server.url)
    form = page.locator("#mailbox-form")
    fill_other_imap(form, mailbox_user)
    form.locator("[name=password]").fill("not-the-password")
    page.evaluate(  # CSSOM, allowed: what browsers and extensions do to form fields
        "document.querySelectorAll('#mailbox-form input')"
        ".forEach(i => { i.style.color = 'red'; i.style.color = ''; })"
    )
    form.locator("button[type=submit]").click()
    expect(page.locator("#mailbox-failure")).to_be_visible(timeout=20_000)
    assert problems == []
