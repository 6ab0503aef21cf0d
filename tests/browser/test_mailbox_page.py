"""'Sobre a sincronização' and the company's sync rules in a real browser, on a real Dovecot."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.mailboxes import service as mailboxes
from tests.support.mailboxes import company, mailbox_of
from tests.support.pages import fill_other_imap, log_in, open_mailbox_page, watch_console

pytestmark = pytest.mark.browser

# Chromium reports the answers we provoke on purpose (a 403 page, a 422 re-rendered form)
# as failed loads; they are not script errors.
EXPECTED_STATUSES = tuple(
    f"Failed to load resource: the server responded with a status of {code}" for code in (403, 422)
)
GMAIL_SENT = "[Gmail]/E-mails enviados"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA, as LEADSYNC_IMAP_CA_FILE does in production."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    return watch_console(page, EXPECTED_STATUSES)


def connect_directly(app, engine, user, mailbox_user) -> None:  # type: ignore[no-untyped-def]
    """Connect a mailbox through the same function the page uses (setup for other tests)."""
    request = mailboxes.ConnectionRequest(
        "other", mailbox_user.address, mailbox_user.password, "", "127.0.0.1",
        mailbox_user.server.port, "tls",  # no SMTP server: sync only
    )  # fmt: skip
    box: SecretBox = app.extensions["leadsync.secrets"]
    with write_session(engine) as session:
        mailboxes.connect_mailbox(
            session, user=user, request=request, box=box, ca_file=app.config["IMAP_CA_FILE"]
        )


def test_rep_connects_a_mailbox_through_the_page_and_sees_it_connected(
    page: Page, live_server, rep, mailbox_user, engine, problems
):
    base = live_server.url
    log_in(page, base, rep.email)
    open_mailbox_page(page, base)
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")

    form = page.locator("#mailbox-form")
    custom = form.locator(".custom-server")
    expect(custom).to_be_hidden()
    form.locator("input[name=provider][value=other]").check()
    expect(custom).to_be_visible()

    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()

    status = page.locator("#mailbox-status")
    expect(status).to_be_visible(timeout=20_000)
    expect(status.locator(".badge-ok")).to_have_count(1)
    expect(status).to_contain_text(mailbox_user.address)
    expect(status).to_contain_text(f"INBOX, {GMAIL_SENT}")
    assert mailbox_of(engine, rep.id).connected
    expect(page.locator("[name=password]")).to_have_value("")
    assert mailbox_user.password not in page.content()
    assert problems == []


def test_rep_switches_the_mailbox_page_to_english_and_tests_the_connection(
    page: Page, live_server, rep, mailbox_user, engine, problems
):
    connect_directly(live_server.app, engine, rep, mailbox_user)
    base = live_server.url
    log_in(page, base, rep.email)
    open_mailbox_page(page, base)
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    expect(page.locator("#mailbox-status .badge-ok")).to_have_count(1)
    ids_before = page.locator("[id]").evaluate_all("nodes => nodes.map(n => n.id)")

    page.locator("footer button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(re.escape(f"{base}/settings/mailbox/")))
    expect(page.locator("main h1")).to_have_text("About sync")
    expect(page.locator("nav.sidepanel a[aria-current=page]")).to_have_text("About sync")
    expect(page.locator("#mailbox-status .badge-ok")).to_have_text("Connected")
    expect(page.locator("#checklist-title")).to_have_text("Before you connect")
    ids_after = page.locator("[id]").evaluate_all("nodes => nodes.map(n => n.id)")
    assert ids_after == ids_before  # the same page, only the words changed

    page.locator("#mailbox-status button[type=submit]").first.click()
    expect(page.locator("#mailbox-status .alert-success")).to_have_text(
        "Connection tested: everything works.", timeout=20_000
    )
    assert problems == []


def test_admin_changes_the_internal_email_switch_and_the_never_log_list(
    page: Page, live_server, admin, engine, problems
):
    base = live_server.url
    log_in(page, base, admin.email)
    page.locator(".mainnav a[href='/settings/']").click()
    page.locator("nav.sidepanel a[href='/settings/company']").click()
    expect(page).to_have_url(f"{base}/settings/company")

    form = page.locator("#sync-settings-form")
    switch = form.locator("[name=skip_internal]")
    expect(switch).to_be_checked()
    switch.uncheck()
    form.locator("[name=never_log]").fill("@Gmail.com\nfamily.org\nBoss@X.com")
    form.locator("button[type=submit]").click()

    expect(page.locator("#sync-settings-form .alert-success")).to_be_visible()
    record = company(engine)
    assert record.skip_internal is False
    assert record.never_log == ["@gmail.com", "@family.org", "boss@x.com"]

    page.reload()
    expect(page.locator("#sync-settings-form [name=skip_internal]")).not_to_be_checked()
    expect(page.locator("#sync-settings-form [name=never_log]")).to_have_value(
        "@gmail.com\n@family.org\nboss@x.com"
    )
    expect(page.locator("#audit-log")).to_contain_text(admin.email)
    expect(page.locator("#audit-log")).to_contain_text("never_log")
    assert problems == []


def test_admin_sees_a_refused_never_log_entry_next_to_the_field(
    page: Page, live_server, admin, engine, problems
):
    base = live_server.url
    log_in(page, base, admin.email)
    page.goto(f"{base}/settings/company")
    form = page.locator("#sync-settings-form")
    form.locator("[name=never_log]").fill("not valid")
    form.locator("button[type=submit]").click()
    expect(page.locator("#never_log-error")).to_be_visible()
    expect(page.locator("#sync-settings-form [name=never_log]")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert company(engine).never_log == []
    assert problems == []


def test_rep_cannot_reach_the_company_page(page: Page, live_server, rep, problems):
    base = live_server.url
    log_in(page, base, rep.email)
    page.locator(".mainnav a[href='/settings/']").click()
    expect(page.locator("nav.sidepanel a[href='/settings/mailbox/']")).to_have_count(1)
    expect(page.locator("nav.sidepanel a[href='/settings/company']")).to_have_count(0)
    response = page.goto(f"{base}/settings/company")
    assert response is not None and response.status == 403
    expect(page.locator("#sync-settings-form")).to_have_count(0)
    assert problems == []
