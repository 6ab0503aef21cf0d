""" "Sobre a sincronização" explains the sync, in a real browser on a real Dovecot: the
"why is this email not here?" form answers in place, and a freshly connected mailbox shows
its estimate, then its first round live. The scheduler never runs in tests, so the tests
play its part: they run the round the page asked for."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.flask import secret_box
from dashboard.sync.runner import RunOptions, run_round
from tests.support.mailboxes import at_noon_in_sao_paulo, mail_on
from tests.support.pages import fill_other_imap, log_in, open_mailbox_page, watch_console
from tests.support.sync import SENT, connect, sync

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


def sent_and_old_mail(mailbox_user) -> None:  # type: ignore[no-untyped-def]
    """Three proposals sent this week, and one message from long before the import window."""
    owner, now = mailbox_user.address, datetime.now(UTC)
    for n in range(3):
        proposal = mail_on(now - timedelta(days=1), sender=owner, to=f"compras{n}@cliente-{n}.test")
        mailbox_user.append(SENT, proposal, msg_time=now - timedelta(days=1))
    old = now - timedelta(days=200)
    mailbox_user.append("INBOX", mail_on(old, sender="antigo@velho.test", to=owner), msg_time=old)


def test_connecting_shows_the_estimate_then_the_first_round_live(
    app, engine, rep, mailbox_user, live_server, page: Page, problems
):
    sent_and_old_mail(mailbox_user)
    base = live_server.url
    log_in(page, base, rep.email)
    open_mailbox_page(page, base)
    form = page.locator("#mailbox-form")
    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()

    estimate = page.locator("#sync-estimate")
    expect(estimate).to_have_text(
        re.compile(
            r"Cerca de 3 e-mails nos últimos 30 dias;\s+1 mais antigo fica de fora —\s+"
            r"peça a um administrador para mudar o período\."
        ),
        timeout=20_000,
    )
    status = page.locator("#sync-status")
    expect(status.locator("#stored-count")).to_have_text("Nenhum e-mail armazenado")
    expect(status).to_contain_text("A sincronização começa em instantes…")
    page.evaluate("window.samePage = true")  # gone if anything reloads the page

    # The scheduler's part: the round the connection asked for, paused after its first batch.
    first_batch, go_on = threading.Event(), threading.Event()

    def pause_after_the_first_batch(step: str) -> None:
        if step == "commit" and not first_batch.is_set():
            first_batch.set()
            go_on.wait(30)

    options = RunOptions(
        ca_file=app.config["IMAP_CA_FILE"],
        connections=1,
        batch_size=1,
        on_step=pause_after_the_first_batch,
    )
    worker = threading.Thread(target=run_round, args=(engine, secret_box(app), options))
    worker.start()
    try:
        assert first_batch.wait(30)
        expect(status).to_contain_text("Sincronizando agora…", timeout=10_000)
        expect(status.locator(".progress-row", has_text=SENT)).to_contain_text("1 de 3")
    finally:
        go_on.set()
        worker.join(60)
    expect(status.locator("#stored-count")).to_have_text("3 e-mails armazenados", timeout=10_000)
    expect(status).not_to_have_attribute("hx-trigger", "every 2s")  # polling stopped
    expect(status).not_to_contain_text("Sincronizando agora…")
    assert page.evaluate("window.samePage") is True
    assert problems == []
