"""The admin connects a rep's mailbox from "Caixas de e-mail da equipe" in a real browser;
the rep then finds it connected (by the admin) and syncing, and the secret nowhere."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.flask import secret_box
from dashboard.sync.runner import RunOptions, run_round
from tests.support.mailboxes import at_noon_in_sao_paulo, mail_on, mailbox_of
from tests.support.pages import fill_other_imap, log_in, watch_console
from tests.support.sync import SENT

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def test_the_admin_connects_a_reps_mailbox_and_the_rep_sees_it_syncing_never_the_secret(
    app, engine, live_server, page: Page, admin, rep, mailbox_user
):
    problems = watch_console(page)
    base = live_server.url
    for n in range(2):
        mail = mail_on(at_noon_in_sao_paulo(1), sender=mailbox_user.address,
                       to=f"lead{n}@client.test", subject=f"Proposta {n}")  # fmt: skip
        mailbox_user.append(SENT, mail)

    log_in(page, base, admin.email)
    page.locator(".mainnav a[href='/settings/']").click()
    page.locator("nav.sidepanel a", has_text="Caixas de e-mail da equipe").click()
    row = page.locator("#team-mailboxes tr", has_text=rep.name)
    row.get_by_role("link", name="Conectar por ele(a)").click()
    expect(page.locator("h1")).to_have_text(f"Caixa de e-mail de {rep.name}")
    form = page.locator("#mailbox-form")
    expect(form.locator("[name=password]")).to_have_value("")
    fill_other_imap(form, mailbox_user)
    form.locator("button[type=submit]").click()
    expect(page.locator("#mailbox-status")).to_be_visible(timeout=20_000)
    expect(page).to_have_url(f"{base}/settings/team-mailboxes/{rep.id}/")
    assert mailbox_user.password not in page.content()
    assert mailbox_of(engine, rep.id).connected

    page.context.clear_cookies()
    log_in(page, base, rep.email)
    page.goto(f"{base}/settings/mailbox/")
    expect(page.locator("#mailbox-status .badge-ok")).to_have_text("Conectada")
    expect(page.locator("#connected-by")).to_contain_text(f"Conectada por {admin.name} em")
    expect(page.locator("#sync-status")).to_have_attribute("hx-trigger", "every 2s")  # waiting
    # The scheduler's part: run the round the connection asked for.
    options = RunOptions(ca_file=app.config["IMAP_CA_FILE"])
    worker = threading.Thread(target=run_round, args=(engine, secret_box(app), options))
    worker.start()
    worker.join(timeout=60)
    expect(page.locator("#stored-count strong")).to_have_text("2", timeout=15_000)
    expect(page.locator("#mailbox-form [name=password]")).to_have_value("")
    assert mailbox_user.password not in page.content()
    assert problems == []
