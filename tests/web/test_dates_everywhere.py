"""Every page a rep and an admin open after a real sync writes its dates in the viewer's
language: no ISO dates, no day/month order or month names of the other language."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email, Lead
from tests.support.clients import log_in
from tests.support.leads import HTMX, text_of
from tests.support.sync import append_mails, connect, prepare, realistic_mailbox, sync

ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
PORTUGUESE_DAY = re.compile(
    r"\b\d{2}/\d{2}/\d{4}\b|\bde (jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez)\."
)
ENGLISH_DAY = re.compile(
    r"\b\d{1,2}/\d{1,2}/\d{2}\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d|\b[AP]M\b"
)
OTHER_LANGUAGE = {"pt_BR": ENGLISH_DAY, "en": PORTUGUESE_DAY}
OWN_LANGUAGE = {"pt_BR": PORTUGUESE_DAY, "en": ENGLISH_DAY}


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def synced(app, admin, mailbox_user, engine):  # type: ignore[no-untyped-def]
    """A rep's realistic mailbox synced once; its leads and threads."""
    scenario = realistic_mailbox(mailbox_user.address)
    append_mails(mailbox_user, scenario.mails)
    mailbox_id = connect(app, mailbox_user)
    prepare(app, scenario)
    assert sync(app, mailbox_id).error_code is None
    with read_session(engine) as session:
        leads = list(session.scalars(select(Lead.id)))
        keys = sorted(set(session.scalars(select(Email.thread_key))))
    return SimpleNamespace(owner=mailbox_user.address, leads=leads, keys=keys)


def texts(client, synced) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The visible text of every page (and expanded thread) the rep opens."""
    urls = ["/", "/leads/", "/settings/mailbox/", "/settings/mailbox/sync/why?q=2026"]
    urls += [f"/leads/{lead}" for lead in synced.leads]
    found = {url: text_of(client.get(url).get_data(as_text=True)) for url in urls}
    for lead in synced.leads:
        for key in synced.keys:
            answer = client.get(f"/leads/{lead}/threads", query_string={"key": key}, headers=HTMX)
            if answer.status_code == 200:
                found[f"/leads/{lead}/threads?key={key}"] = text_of(answer.get_data(as_text=True))
    return found


@pytest.mark.parametrize("language", ["pt_BR", "en"])
def test_every_date_a_rep_and_an_admin_see_is_in_their_language(app, admin, synced, language):
    other = log_in(app.test_client(), admin.email)
    other.post("/language", data={"language": "en" if language == "pt_BR" else "pt_BR"})
    other.get("/settings/company")  # a viewer in the other language compiles templates first
    rep = log_in(app.test_client(), synced.owner)
    texts(rep, synced)  # and the rep too, before choosing a language
    rep.post("/language", data={"language": language})
    rep.post("/settings/mailbox/sync/rescan", data={"since": "2026-10-01"})  # a flash with a day
    pages = texts(rep, synced)
    boss = log_in(app.test_client(), admin.email)
    boss.post("/language", data={"language": language})
    for url in ("/settings/users/", "/settings/company"):
        pages[url] = text_of(boss.get(url).get_data(as_text=True))
    for url, text in pages.items():
        assert not ISO_DAY.search(text), (url, ISO_DAY.search(text))
        assert not OTHER_LANGUAGE[language].search(text), (
            url,
            OTHER_LANGUAGE[language].search(text),
        )
    dated = [url for url, text in pages.items() if OWN_LANGUAGE[language].search(text)]
    assert len(dated) >= len(synced.leads) + 3  # the lists, the mailbox page, each lead...
