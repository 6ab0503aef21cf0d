""" "Por que este e-mail não está aqui?" after a real sync of a real Dovecot mailbox: every
ledger row is found by address, subject, day (as the viewer writes it) or folder."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.support.clients import log_in
from tests.support.mailboxes import at_noon_in_sao_paulo, english_client, mail_on
from tests.support.sync import SENT, connect, sync

WHY_URL = "/settings/mailbox/sync/why"
HTMX = {"HX-Request": "true"}
INTERNAL_PT = "Só havia pessoas da empresa nele, e a empresa não sincroniza e-mails internos."


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def synced(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A rep's mailbox synced once: an internal lunch invitation, a message with neither
    sender nor subject written late at night (São Paulo time), and a proposal sent to a
    prospect (stored: it creates the lead)."""
    owner = mailbox_user.address
    mailbox_id = connect(app, mailbox_user)
    lunch_day = at_noon_in_sao_paulo(5)
    late = at_noon_in_sao_paulo(8) + timedelta(hours=11, minutes=30)  # 23:30 there, next day UTC
    prospect = "compras@prospect-why.test"
    mailbox_user.append(
        "INBOX", mail_on(lunch_day, sender="colega@acme.test", to=owner, subject="Almoço de sexta")
    )
    mailbox_user.append("INBOX", mail_on(late, to=owner))
    mailbox_user.append(SENT, mail_on(lunch_day, sender=owner, to=prospect, subject="Proposta"))
    assert sync(app, mailbox_id).error_code is None
    return SimpleNamespace(
        owner=owner, lunch_day=lunch_day, late_day=late - timedelta(hours=3), prospect=prospect
    )


def results(client, query: str) -> str:  # type: ignore[no-untyped-def]
    """The answer HTMX puts under the form."""
    response = client.get(WHY_URL, query_string={"q": query}, headers=HTMX)
    assert response.status_code == 200
    return response.data.decode()


def section(html: str, name: str) -> str:
    """One list of the answer ("why-stored" or "why-skipped"), or "" when absent."""
    match = re.search(rf'<ul class="why-list" id="{name}">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def pt_day(when: datetime) -> str:
    """A day as a Brazilian types it."""
    return when.strftime("%d/%m/%Y")


def test_a_day_typed_in_portuguese_finds_the_messages_without_sender_or_subject(app, synced):
    client = log_in(app.test_client(), synced.owner)
    skipped = section(results(client, pt_day(synced.late_day)), "why-skipped")
    assert "(sem assunto)" in skipped and "(sem remetente)" in skipped
    assert "INBOX" in skipped and INTERNAL_PT in skipped
    assert f"{pt_day(synced.late_day)} 23:30" in skipped  # the viewer's zone, their format
    assert "Almoço de sexta" not in skipped


def test_the_day_is_the_viewers_day_not_the_utc_one(app, synced):
    client = log_in(app.test_client(), synced.owner)
    utc_day = synced.late_day + timedelta(days=1)  # the message's day in UTC
    assert "(sem assunto)" not in results(client, pt_day(utc_day))


def test_an_iso_day_and_an_english_day_find_the_same_rows(app, synced):
    client = english_client(app, synced.owner)
    day = synced.lunch_day
    english = f"{day.month}/{day.day}/{day.year}"
    for query in (day.date().isoformat(), english):
        html = results(client, query)
        assert "Almoço de sexta" in section(html, "why-skipped"), query
        assert "Proposta" in section(html, "why-stored"), query
        assert "Only company people were in it" in html


def test_a_folder_name_finds_its_messages(app, synced):
    client = log_in(app.test_client(), synced.owner)
    inbox = section(results(client, "inbox"), "why-skipped")
    assert "Almoço de sexta" in inbox and "(sem assunto)" in inbox
    sent = results(client, "enviados")
    assert "Proposta" in section(sent, "why-stored") and SENT in sent
    assert section(sent, "why-skipped") == ""


def test_a_recipient_address_finds_the_sent_email_that_was_stored(app, synced):
    client = log_in(app.test_client(), synced.owner)
    stored = section(results(client, synced.prospect), "why-stored")
    assert "Proposta" in stored and synced.owner in stored


def test_a_colleagues_address_finds_the_internal_email_and_its_reason(app, synced):
    client = log_in(app.test_client(), synced.owner)
    skipped = section(results(client, "colega@acme"), "why-skipped")
    assert "Almoço de sexta" in skipped and INTERNAL_PT in skipped


def test_without_javascript_the_page_itself_answers(app, synced):
    client = log_in(app.test_client(), synced.owner)
    response = client.get(WHY_URL, query_string={"q": "almoço"})
    html = response.data.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'id="why-q"' in html and 'value="almoço"' in html
    assert "Almoço de sexta" in section(html, "why-skipped")


def test_too_little_text_asks_for_more_and_unknown_text_says_where_mail_may_be(app, synced):
    client = log_in(app.test_client(), synced.owner)
    assert "Digite pelo menos 3 caracteres." in results(client, "ab")
    assert "fora da janela de importação" in results(client, "nada-parecido")
    assert "fora da janela" in results(client, "31/02/2026")  # no such day: searched as text
