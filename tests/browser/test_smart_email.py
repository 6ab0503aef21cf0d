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
from dashboard.models import EmailTemplate, PrivateThread
from tests.support.factories import PASSWORD
from tests.support.lead_data import lead_data
from tests.support.sending import connect_smtp, make_lead

pytestmark = pytest.mark.browser


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


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


def test_the_lead_and_its_timeline_change_the_moment_the_email_is_sent(
    app, engine, rep, live_server, smtp_server, page: Page, problems: list[str]
) -> None:  # type: ignore[no-untyped-def]
    app.extensions["leadsync.send_queue"] = build_send_queue(app)
    connect_smtp(app, rep, smtp_server)  # aiosmtpd keeps no Sent copy: no sync will help
    with lead_data(engine) as data:
        lead = data.lead(name="Rita Paz", addresses=["rita@cliente.test"], owner=rep)
        data.thread(lead, rep=rep, messages=1, subject="Orçamento", sender="rita@cliente.test")
    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(rep.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/leads/{lead.id}")
    expect(page.locator("#lead-title .badge-warn")).to_be_visible()  # "responder"
    expect(page.locator("#lead-facts")).to_contain_text("↙")
    expect(page.locator("#lead-facts .email-count")).to_have_text("1")
    expect(page.locator("#timeline .thread")).to_have_count(1)

    page.locator(f"button[hx-get$='/leads/{lead.id}/compose']").click()
    form = page.locator("#compose-form")
    form.locator("[name=subject]").fill("Proposta revisada")
    form.locator("[name=body]").fill("Segue a proposta revisada.")
    form.locator("button[type=submit]").click()
    expect(page.locator(".outgoing-sent")).to_be_visible(timeout=15_000)

    # No reload: the header and the timeline follow at once (one fetch of the page, which
    # can take seconds on a loaded test machine).
    expect(page.locator("#timeline .thread-subject").first).to_have_text(
        "Proposta revisada", timeout=15_000
    )
    expect(page.locator("#timeline .thread")).to_have_count(2)
    expect(page.locator("#lead-title .badge-warn")).to_have_count(0)
    expect(page.locator("#lead-facts")).to_contain_text("↗")
    expect(page.locator("#lead-facts .email-count")).to_have_text("2")
    expect(page.locator(".outgoing-sent")).to_be_visible()  # the state line stays

    page.locator(".outgoing-sent a.outgoing-email").click()
    message = page.locator("#timeline .message[id^='email-']")
    expect(message).to_have_count(1)
    smart = re.compile("e-mail inteligente|smart email", re.I)
    expect(message.locator(".badge")).to_contain_text(smart)
    expect(page.locator("#timeline .thread-head").first).to_have_attribute("aria-expanded", "true")
    assert problems == []


def test_a_teammate_following_the_link_sees_only_what_the_rule_allows(
    app, engine, rep, teammate, live_server, page: Page
) -> None:  # type: ignore[no-untyped-def]
    with lead_data(engine) as data:
        lead = data.lead(name="Rui Sá", addresses=["rui@cliente.test"], owner=rep)
        (sent,) = data.thread(lead, rep=rep, messages=1, subject="Só nosso", directions=["out"])
        data.session.add(PrivateThread(thread_key=sent.thread_key, user_id=rep.id))
    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(teammate.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/leads/{lead.id}?email={sent.id}#email-{sent.id}")
    expect(page.locator(f"#email-{sent.id}")).to_be_visible()
    expect(page.locator(f"#email-{sent.id} iframe")).to_have_count(0)  # metadata only
    expect(page.locator("#timeline")).not_to_contain_text("Só nosso")
