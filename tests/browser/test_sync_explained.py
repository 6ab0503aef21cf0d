""" "Sobre a sincronização" explains the sync, in a real browser on a real Dovecot: the
"why is this email not here?" form answers in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.mailboxes import at_noon_in_sao_paulo, mail_on
from tests.support.pages import log_in, open_mailbox_page, watch_console
from tests.support.sync import connect, sync

pytestmark = pytest.mark.browser

INTERNAL_PT = "Só havia pessoas da empresa nele, e a empresa não sincroniza e-mails internos."


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    return watch_console(page)


def test_why_form_on_the_mailbox_page_answers_in_place(
    app, admin, mailbox_user, live_server, page: Page, problems
):
    owner = mailbox_user.address
    mailbox_id = connect(app, mailbox_user)
    day = at_noon_in_sao_paulo(6)
    mailbox_user.append("INBOX", mail_on(day, to=owner))  # neither sender nor subject
    mailbox_user.append("INBOX", mail_on(day, sender="colega@acme.test", to=owner, subject="Café"))
    assert sync(app, mailbox_id).error_code is None
    base = live_server.url
    log_in(page, base, owner)
    open_mailbox_page(page, base)

    page.locator("#why-q").fill(day.strftime("%d/%m/%Y"))
    results = page.locator("#why-results")
    expect(results.locator("#why-skipped li")).to_have_count(2)
    expect(results).to_contain_text("(sem assunto) · (sem remetente)")
    expect(results).to_contain_text(f"{day.strftime('%d/%m/%Y')} 12:00 · INBOX")
    expect(results).to_contain_text(INTERNAL_PT)

    page.locator("#why-q").fill("café")
    expect(results.locator("#why-skipped li")).to_have_count(1)
    page.locator("#why-q").press("Enter")
    expect(results.locator("#why-skipped li")).to_contain_text("Café")
    expect(page).to_have_url(f"{base}/settings/mailbox/")  # answered in place
    assert problems == []
