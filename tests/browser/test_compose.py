"""The compose card in a real browser: a company with no template sends; To starts with the
primary address and a chip adds the other; the preview follows the typing and warns of a
missing value; a template picked in a reply keeps the reply and the typing; a failed email
is edited and sent in its place, or discarded after a confirmation."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect
from sqlalchemy import select

from dashboard import build_send_queue
from dashboard.db.engine import read_session, write_session
from dashboard.models import EmailTemplate, Mailbox, OutgoingEmail
from tests.support.factories import PASSWORD
from tests.support.lead_data import lead_data
from tests.support.sending import connect_smtp

pytestmark = pytest.mark.browser

WORK = "joana@cliente.test"
PERSONAL = "joana.silva@gmail.test"


@pytest.fixture
def app_config(smtp_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test SMTP server's CA."""
    return {"IMAP_CA_FILE": smtp_server.ca_file}


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            found.append(f"{message.text} at {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


@pytest.fixture
def smtp_password() -> str | None:
    """The rep's mailbox password (None: the right one)."""
    return None


@pytest.fixture
def story(app, engine, rep, live_server, smtp_server, smtp_password, page: Page):  # type: ignore[no-untyped-def]
    """Joana (work address first, a personal one too, no company) wrote to the rep, who is
    logged in with a mailbox that sends through the test server, from the served app."""
    app.extensions["leadsync.send_queue"] = build_send_queue(app)
    mailbox_id = connect_smtp(app, rep, smtp_server, password=smtp_password)
    with lead_data(engine) as data:
        lead = data.lead(name="Joana Silva", addresses=[WORK, PERSONAL], company="", owner=rep)
        (received,) = data.thread(lead, rep=rep, messages=1, subject="Orçamento", sender=WORK)
    page.goto(f"{live_server.url}/login")
    page.locator("main form [name=email]").fill(rep.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/leads/{lead.id}")
    return lead, received, mailbox_id


def settled(page: Page) -> None:
    """Wait until htmx has wired up what it swapped in."""
    expect(page.locator("#compose")).not_to_have_class(re.compile("htmx-settling"))
    expect(page.locator("#compose .htmx-added")).to_have_count(0)


def last_message(app, smtp_server) -> email.message.EmailMessage:  # type: ignore[no-untyped-def]
    """The last message the SMTP server accepted."""
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    return email.message_from_bytes(smtp_server.messages[-1].content, policy=email.policy.default)


def test_a_new_email_without_templates_chips_and_a_live_preview(
    app, rep, story, smtp_server, page: Page, problems: list[str]
) -> None:  # type: ignore[no-untyped-def]
    lead, _, _ = story
    page.locator(f"button[hx-get$='/leads/{lead.id}/compose']").click()
    settled(page)
    form = page.locator("#compose-form")
    expect(form.locator("#compose-template")).to_have_count(0)  # no template in the company
    expect(form.locator("[name=to]")).to_have_value(WORK)
    form.locator(f"[data-add-recipient='{PERSONAL}']").click()
    expect(form.locator("[name=to]")).to_have_value(f"{WORK}, {PERSONAL}")
    expect(form.locator(f"[data-add-recipient='{PERSONAL}']")).to_be_hidden()
    form.locator("[name=subject]").fill("Proposta, {{ primeiro_nome }}")
    form.locator("[name=body]").fill("Olá {{ primeiro_nome }}, tudo bem na {{ empresa }}?")
    preview = page.locator("#compose-preview")
    expect(preview).to_contain_text("Proposta, Joana")
    expect(preview.locator(".preview-gap")).to_contain_text("{{ empresa }}")
    form.locator("[name=body]").fill("Olá {{ primeiro_nome }}, tudo bem?")
    expect(preview.locator(".preview-body")).to_have_text("Olá Joana, tudo bem?")
    expect(preview.locator(".preview-gap")).to_have_count(0)
    form.locator("button[type=submit]").click()
    expect(page.locator(".outgoing-sent")).to_be_visible(timeout=15_000)
    message = last_message(app, smtp_server)
    assert message["Subject"] == "Proposta, Joana"
    assert smtp_server.messages[-1].rcpt_tos == (WORK, PERSONAL)
    assert problems == []


def test_a_template_picked_in_a_reply_keeps_the_reply_and_the_typing(
    app, engine, rep, story, smtp_server, page: Page, problems: list[str]
) -> None:  # type: ignore[no-untyped-def]
    _lead, received, _ = story
    with write_session(engine) as session:
        session.add(EmailTemplate(name="Proposta", subject="Proposta nova",
                                  body="Segue a proposta, {{ primeiro_nome }}."))  # fmt: skip
        session.add(EmailTemplate(name="Meu lembrete", subject="", body="Lembrete", user_id=rep.id))
    page.locator(".thread-head").first.click()
    page.locator(f"a[hx-get$='reply={received.id}']").click()
    settled(page)
    form = page.locator("#compose-form")
    expect(form.locator("[name=subject]")).to_have_value("Re: Orçamento")
    form.locator("[name=cc]").fill("chefe@cliente.test")
    form.locator("[name=body]").fill("Conforme conversamos:")
    expect(form.locator("#compose-template optgroup")).to_have_count(2)  # mine, the company's
    form.locator("#compose-template").select_option(label="Proposta")
    expect(form.locator("[name=body]")).to_have_value(
        "Conforme conversamos:\n\nSegue a proposta, {{ primeiro_nome }}."
    )
    expect(form.locator("[name=cc]")).to_have_value("chefe@cliente.test")
    expect(form.locator("[name=subject]")).to_have_value("Re: Orçamento")
    expect(page.locator("#compose-preview")).to_contain_text("Segue a proposta, Joana.")
    settled(page)
    form.locator("#compose-template").select_option(label="Meu lembrete")  # the other one
    expect(form.locator("[name=body]")).to_have_value(
        "Conforme conversamos:\n\nSegue a proposta, {{ primeiro_nome }}.\n\nLembrete"
    )
    form.locator("button[type=submit]").click()
    expect(page.locator(".outgoing-sent")).to_be_visible(timeout=15_000)
    message = last_message(app, smtp_server)
    assert message["In-Reply-To"] == received.message_id
    assert message["Subject"] == "Re: Orçamento" and message["Cc"] == "chefe@cliente.test"
    assert problems == []


@pytest.mark.parametrize("smtp_password", ["wrong-password-x"])
def test_a_failed_email_is_edited_and_sent_or_discarded(
    app, engine, rep, story, smtp_server, page: Page, problems: list[str]
) -> None:  # type: ignore[no-untyped-def]
    lead, _, mailbox_id = story
    for subject in ("Primeira", "Segunda"):
        page.locator(f"button[hx-get$='/leads/{lead.id}/compose']").click()
        settled(page)
        page.locator("#compose-form [name=subject]").fill(subject)
        page.locator("#compose-form [name=body]").fill("Segue a proposta.")
        page.locator("#compose-form button[type=submit]").click()
        expect(page.locator(".outgoing-failed").filter(has_text=subject)).to_be_visible(
            timeout=15_000
        )
    with write_session(engine) as session:  # the rep fixes the password
        session.get(Mailbox, mailbox_id).secret = app.extensions["leadsync.secrets"].encrypt(
            smtp_server.password
        )
    page.reload()
    first = page.locator(".outgoing-failed").filter(has_text="Primeira")
    first.get_by_role("link").click()  # "Editar"
    settled(page)
    form = page.locator("#compose-form")
    expect(form.locator("[name=subject]")).to_have_value("Primeira")
    form.locator("[name=body]").fill("Segue a proposta revisada.")
    form.locator("button[type=submit]").click()
    expect(page.locator(".outgoing-sent")).to_be_visible(timeout=15_000)
    expect(first).to_have_count(0)  # the failed one is replaced, not kept beside it
    second = page.locator(".outgoing-failed").filter(has_text="Segunda")
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    second.locator("button.danger").click()
    expect(second).to_have_count(0)
    assert asked  # the browser asked before discarding
    message = last_message(app, smtp_server)
    assert "revisada" in message.get_body(("plain",)).get_content()
    assert len(smtp_server.messages) == 1
    with read_session(engine) as session:
        assert list(session.scalars(select(OutgoingEmail.subject))) == ["Primeira"]
    assert problems == []
