"""Days and counts in the viewer's language: the re-scan confirmation, the example day of
"why is this email not here?" (whoever saw the page first), the sync card's large counts."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from dashboard.db.engine import write_session
from dashboard.models import FolderCursor, Mailbox, SyncRun
from dashboard.web.dates import format_day
from tests.support.clients import log_in
from tests.support.leads import text_of
from tests.support.sync import connect

SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # the app's default zone


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def owner(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """The address of a user whose mailbox is connected (the sync card shows)."""
    connect(app, mailbox_user)
    return mailbox_user.address


def client_in(app, address: str, language: str):  # type: ignore[no-untyped-def]
    """A logged-in client that chose a language."""
    client = log_in(app.test_client(), address)
    client.post("/language", data={"language": language})
    return client


def why_hint(client) -> str:  # type: ignore[no-untyped-def]
    """The example text under the "why is this email not here?" search."""
    html = client.get("/settings/mailbox/").get_data(as_text=True)
    match = re.search(r'<small class="hint" id="why-hint">(.*?)</small>', html, re.S)
    assert match, "no why-not-here search on the page"
    return match.group(1)


@pytest.mark.parametrize(
    ("language", "shown"),
    [("pt_BR", "Reprocessamento a partir de 1 de out. de 2026 solicitado."),
     ("en", "Re-scan from Oct 1, 2026 requested.")],
)  # fmt: skip
def test_the_rescan_confirmation_writes_the_day_in_the_viewers_language(
    app, owner, language, shown
):
    client = client_in(app, owner, language)
    response = client.post(
        "/settings/mailbox/sync/rescan", data={"since": "2026-10-01"}, follow_redirects=True
    )
    assert shown in response.get_data(as_text=True)


def test_the_example_day_is_today_in_each_viewers_language_whoever_came_first(app, owner):
    today = datetime.now(SAO_PAULO).date()
    portuguese = why_hint(client_in(app, owner, "pt_BR"))  # compiles the template
    english = why_hint(client_in(app, owner, "en"))
    assert f"um dia como {today:%d/%m/%Y}," in portuguese
    assert f"a day such as {today.month}/{today.day}/{today:%y}," in english


@pytest.mark.parametrize(
    ("language", "format", "shown"),
    [("pt_BR", "short", "07/12/2026"), ("pt_BR", "medium", "7 de dez. de 2026"),
     ("en", "short", "12/7/26"), ("en", "medium", "Dec 7, 2026")],
)  # fmt: skip
def test_a_day_is_written_in_the_viewers_language(app, language, format, shown):
    with app.test_request_context(), force_locale(language):
        assert format_day(date(2026, 12, 7), format) == shown


def sync_card(app, owner: str, language: str) -> str:  # type: ignore[no-untyped-def]
    """The text of the sync status partial, as the page polls it."""
    client = client_in(app, owner, language)
    html = client.get("/settings/mailbox/sync/status", headers={"HX-Request": "true"})
    return text_of(html.get_data(as_text=True))


@pytest.mark.parametrize(
    ("language", "progress", "waiting", "history"),
    [("pt_BR", "1.234 de 5.000", "cerca de 12.000 mensagens", "4.321 1.234 0 Automáticos: 2.500"),
     ("en", "1,234 of 5,000", "about 12,000 messages", "4,321 1,234 0 Automated: 2,500")],
)  # fmt: skip
def test_large_counts_of_the_sync_card_are_grouped_in_the_viewers_language(
    app, engine, owner, language, progress, waiting, history
):
    with write_session(engine) as session:
        mailbox_id = session.scalars(select(Mailbox.id)).one()
        session.add(FolderCursor(mailbox_id=mailbox_id, folder="INBOX", total=5000, done=1234))
        session.add(FolderCursor(mailbox_id=mailbox_id, folder="Sent", total=12000, done=0))
        session.add(
            SyncRun(mailbox_id=mailbox_id, fetched=4321, stored=1234, skipped={"automated": 2500})
        )
    card = sync_card(app, owner, language)
    assert progress in card and waiting in card and history in card
