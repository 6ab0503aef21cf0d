"""The compose card as a rep uses it: it sends what it shows (no hidden template field), says
why it refuses, starts To with the lead's primary address, keeps a reply a reply when a
template is picked, merges Portuguese placeholders, previews them and refuses "Olá ,"."""

from __future__ import annotations

import email
import email.policy
import re
from html import unescape

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Email, EmailTemplate, Lead, OutgoingEmail, User
from tests.support.clients import log_in
from tests.support.lead_data import lead_data, set_company
from tests.support.leads import HTMX, page
from tests.support.sending import connect_smtp, form_fields
from tests.support.servers.smtp import SmtpServer

WORK = "joana@cliente.test"
PERSONAL = "joana.silva@gmail.test"


@pytest.fixture
def app_config(smtp_server: SmtpServer) -> dict:
    """Trust the test SMTP server's CA; English labels."""
    return {"IMAP_CA_FILE": smtp_server.ca_file, "LANGUAGES": ("en", "pt_BR")}


@pytest.fixture
def sending(app, rep: User, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    """The rep's mailbox sends through the test SMTP server."""
    connect_smtp(app, rep, smtp_server)


def make_lead(engine: Engine, rep: User, company: str = "Cliente SA", name: str = "Joana Silva"):  # type: ignore[no-untyped-def]
    """A lead with a work address (the first: primary) and a personal one, and an email of
    hers in the rep's mailbox."""
    with lead_data(engine) as data:
        lead = data.lead(name=name, addresses=[WORK, PERSONAL], company=company)
        (received,) = data.thread(lead, rep=rep, messages=1, subject="Orçamento", sender=WORK)
    return lead, received


def compose_fields(client: FlaskClient, lead: Lead, **query: object) -> dict[str, str]:
    """The fields of the compose card as the lead page opens it."""
    html = page(client, f"/leads/{lead.id}/compose", query_string=query, headers=HTMX)
    return form_fields(html)


def sent_message(app, smtp_server: SmtpServer) -> email.message.EmailMessage:  # type: ignore[no-untyped-def]
    """The last message the SMTP server accepted, once deliveries finished."""
    app.extensions["leadsync.send_queue"].wait(timeout=30)
    return email.message_from_bytes(smtp_server.messages[-1].content, policy=email.policy.default)


def test_the_form_sends_what_it_shows_with_no_template_in_the_company(
    app, engine, rep, rep_client, sending, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, rep)
    fields = compose_fields(rep_client, lead)
    assert "template" not in fields  # no template: no picker, and nothing hidden required
    fields.update(subject="Proposta", body="Segue a proposta.")
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sent_message(app, smtp_server)["Subject"] == "Proposta"


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"to": ""}, "This field is required."),
        ({"to": "not-an-address"}, "One of the addresses is not valid."),
        ({"subject": "x" * 301}, "Field cannot be longer than 300 characters."),
        ({"body": "Veja {{ cargo }}"}, "{{ cargo }} is not a placeholder: check its spelling."),
    ],
)
def test_a_refused_post_shows_why_in_the_form(
    engine, rep, rep_client, sending, change: dict[str, str], shown: str
) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, rep)
    fields = {**compose_fields(rep_client, lead), "body": "Oi", **change}
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 422
    messages = re.findall(
        r'<p class="(?:error|alert alert-error)"[^>]*>([^<]*)</p>', response.get_data(as_text=True)
    )
    assert shown in map(unescape, messages)


def test_to_starts_with_the_primary_address_and_offers_the_others(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, received = make_lead(engine, rep)
    html = page(rep_client, f"/leads/{lead.id}/compose", headers=HTMX)
    assert form_fields(html)["to"] == WORK
    assert re.search(rf'<button type="button" class="chip" data-add-recipient="{PERSONAL}"', html)
    reply = page(rep_client, f"/leads/{lead.id}/compose?reply={received.id}", headers=HTMX)
    assert form_fields(reply)["to"] == WORK  # the sender of the replied email
    assert f'data-add-recipient="{PERSONAL}"' in reply
    assert f'data-add-recipient="{WORK}"' not in reply


def test_picking_a_template_in_a_reply_keeps_the_reply_and_what_was_typed(
    app, engine, rep, rep_client, sending, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, received = make_lead(engine, rep)
    with write_session(engine) as session:
        template = EmailTemplate(name="Proposta", subject="Proposta {{ empresa }}",
                                 body="Segue a proposta, {{ primeiro_nome }}.")  # fmt: skip
        session.add(template)
        session.flush()
        template_id = template.id
    fields = compose_fields(rep_client, lead, reply=received.id)
    fields.update(cc="chefe@cliente.test", body="Conforme conversamos:", template=str(template_id))
    picked = rep_client.post(f"/leads/{lead.id}/compose/template", data=fields, headers=HTMX)
    after = form_fields(picked.get_data(as_text=True))
    assert after["subject"] == "Re: Orçamento" and after["cc"] == "chefe@cliente.test"
    assert after["reply_to"] == str(received.id) and after["to"] == WORK
    assert after["body"] == "Conforme conversamos:\n\nSegue a proposta, {{ primeiro_nome }}."
    response = rep_client.post(f"/leads/{lead.id}/compose", data=after, headers=HTMX)
    assert response.status_code == 200
    message = sent_message(app, smtp_server)
    assert message["In-Reply-To"] == received.message_id
    assert received.message_id in message["References"]
    assert "Segue a proposta, Joana." in message.get_body(("plain",)).get_content()
    with read_session(engine) as session:
        stored = session.scalar(select(Email).where(Email.message_id == message["Message-ID"]))
    assert stored.thread_key == received.thread_key


def test_portuguese_and_english_placeholders_are_merged_in_what_is_sent(
    app, engine, rep, rep_client, sending, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, rep)
    fields = compose_fields(rep_client, lead)
    fields.update(
        subject="{{ primeiro_nome }}, proposta para a {{ empresa }}",
        body="Olá {{ nome }} ({{ first_name }}, {{ company }}),\n\n{{ meu_nome }} / {{ rep_name }}",
    )
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 200
    message = sent_message(app, smtp_server)
    assert message["Subject"] == "Joana, proposta para a Cliente SA"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert f"Olá Joana Silva (Joana, Cliente SA),\n\n{rep.name} / {rep.name}" in text


@pytest.mark.parametrize(
    ("name", "company", "body", "named"),
    [
        ("", "Cliente SA", "Olá {{ primeiro_nome }},\n\nTudo bem?", "{{ primeiro_nome }}"),
        ("Joana Silva", "", "Oi {{ first_name }}, tudo bem na {{ empresa }}?", "{{ empresa }}"),
    ],
)
def test_a_placeholder_without_a_value_is_refused_never_sent_blank(
    engine, rep, rep_client, sending, smtp_server, name: str, company: str, body: str, named: str
) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, rep, company=company, name=name)
    fields = {**compose_fields(rep_client, lead), "subject": "Oi", "body": body}
    response = rep_client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert f"{named} has no value for this lead" in html
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutgoingEmail)) == 0
    assert smtp_server.messages == []


def test_the_preview_merges_for_this_lead_and_warns_of_a_missing_value(
    engine, rep, rep_client
) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, rep, company="")
    fields = {**compose_fields(rep_client, lead), "subject": "Oi {{ primeiro_nome }}",
              "body": "Olá **{{ nome }}**, e a {{ empresa }}?"}  # fmt: skip
    response = rep_client.post(f"/leads/{lead.id}/compose/preview", data=fields, headers=HTMX)
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert "Oi Joana" in html and "Olá <strong>Joana Silva</strong>, e a {{ empresa }}?" in html
    assert "{{ empresa }} has no value for this lead" in html
    assert "preview-gap" not in page(
        rep_client, f"/leads/{lead.id}/compose", headers=HTMX
    )  # an empty form warns of nothing


def test_the_tracking_hint_names_the_section_that_has_the_switch(
    app, engine, admin, rep, rep_client
) -> None:  # type: ignore[no-untyped-def]
    app.config["PUBLIC_URL"] = "https://leadsync.example.com"
    set_company(engine, tracking=False)
    lead, _ = make_lead(engine, rep)
    admin_client = log_in(app.test_client(), admin.email)
    settings = page(admin_client, "/settings/company")
    section = re.search(r'<section class="card" id="lead-settings">\s*<h2>([^<]+)</h2>', settings)
    menu = re.search(r'<a href="/settings/company"[^>]*>([^<]+)</a>', settings)
    path = f"{menu.group(1)} &gt; {section.group(1)}"
    hint = re.search(r'<p class="hint" id="tracking-hint">(.*?)</p>', page(
        rep_client, f"/leads/{lead.id}/compose", headers=HTMX), re.S).group(1)  # fmt: skip
    assert path in hint and "LEADSYNC_PUBLIC_URL" not in hint
    admin_hint = page(admin_client, f"/leads/{lead.id}/compose", headers=HTMX)
    assert 'href="/settings/company#lead-settings"' in admin_hint
