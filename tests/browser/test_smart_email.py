"""A smart email in a real browser: compose from the lead page with a template, send, see it
sent and on the timeline, then a recipient (another browser) opens it and the rep sees it."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard import build_send_queue
from dashboard.db.engine import write_session
from dashboard.models import EmailTemplate
from tests.support.factories import PASSWORD
from tests.support.sending import connect_smtp, make_lead

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(smtp_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test SMTP server's CA."""
    return {"IMAP_CA_FILE": smtp_server.ca_file}


def test_compose_send_and_see_the_open(
    app, engine, rep, live_server, smtp_server, page: Page, browser: Browser
) -> None:  # type: ignore[no-untyped-def]
    app.config["PUBLIC_URL"] = live_server.url  # recipients reach this server's tracking URLs
    app.extensions["leadsync.send_queue"] = build_send_queue(app)
    connect_smtp(app, rep, smtp_server)
    lead, _address = make_lead(engine, "Joana Silva", "Cliente SA")
    with write_session(engine) as session:
        session.add(
            EmailTemplate(
                name="Primeiro contato",
                subject="Olá {{ first_name }}",
                body="Oi {{ first_name }}, tudo bem na {{ company }}?",
            )
        )
    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(rep.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/leads/{lead.id}")

    page.locator(f"button[hx-get$='/leads/{lead.id}/compose']").click()
    form = page.locator("#compose-form")
    expect(form).to_be_visible()
    # htmx wires up swapped-in content when it settles; choose the template only after that.
    expect(page.locator("#compose")).not_to_have_class(re.compile("htmx-settling"))
    expect(page.locator("#compose .htmx-added")).to_have_count(0)
    page.locator("#compose-template").select_option(label="Primeiro contato")
    expect(page.locator("#compose-form [name=subject]")).to_have_value("Olá {{ first_name }}")
    page.locator("#compose-form button[type=submit]").click()
    expect(page.locator(".outgoing-sent")).to_be_visible(timeout=15_000)

    page.reload()
    expect(page.locator(".thread-subject").first).to_have_text("Olá Joana")
    message = email.message_from_bytes(
        smtp_server.messages[-1].content, policy=email.policy.default
    )
    pixel = re.search(r'src="([^"]+/t/o/[^"]+)"', message.get_body(("html",)).get_content())
    recipient = browser.new_context()  # the lead's mail client: not logged in
    recipient.new_page().goto(pixel.group(1))
    recipient.close()

    page.reload()
    page.locator(".thread-head").first.click()
    expect(page.locator(".tracking-open")).to_be_visible()
    page.locator("#notifications summary").click()
    expect(page.locator(".notification-list li.unread")).to_have_count(1)
