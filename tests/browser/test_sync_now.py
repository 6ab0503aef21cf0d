""" "Sincronizar agora" in a real browser: the request moves the round forward, the page polls
its progress and then shows the new counts. The scheduler never runs in tests, so the test
plays its part: it runs the round the button asked for."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.flask import secret_box
from dashboard.models import utcnow
from dashboard.sync.runner import RunOptions, due_mailbox_ids, run_round
from tests.support import factories
from tests.support.mailboxes import connect, english_client

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test Dovecot's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def sent_mail(sender: str, to: str, subject: str) -> bytes:
    """A small sent email to a prospect."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"], message["Message-ID"] = formatdate(), make_msgid()
    message.set_content("Olá! Segue a proposta.")
    return message.as_bytes()


def test_sync_now_shows_progress_then_the_new_counts(
    app, engine, live_server, page: Page, mailbox_user, admin
) -> None:  # type: ignore[no-untyped-def]
    factories.make_user(engine, email=mailbox_user.address)
    assert connect(english_client(app, mailbox_user.address), mailbox_user).status_code == 302
    for n in range(3):
        mailbox_user.append(
            "[Gmail]/E-mails enviados",
            sent_mail(mailbox_user.address, f"lead{n}@client.test", f"Offer {n}"),
        )
    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(mailbox_user.address)
    page.locator("main form [name=password]").fill(factories.PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/settings/mailbox/")
    status = page.locator("#sync-status")
    expect(status.locator("#stored-count")).to_have_text("Nenhum e-mail armazenado")
    page.locator("form[action$='/sync/now'] button").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#sync-status")).to_have_attribute("hx-trigger", "every 2s")  # polling
    assert due_mailbox_ids(engine, utcnow(), pressed_only=True)  # the round was moved forward

    # The scheduler's part: run the round that "Sincronizar agora" asked for.
    options = RunOptions(ca_file=app.config["IMAP_CA_FILE"])
    worker = threading.Thread(target=run_round, args=(engine, secret_box(app), options))
    worker.start()
    worker.join(timeout=60)
    expect(page.locator("#sync-status strong").first).to_have_text("3", timeout=15_000)
    expect(page.locator("#sync-status")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator("#sync-history")).to_have_count(1)
