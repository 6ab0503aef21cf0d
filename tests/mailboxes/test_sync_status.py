"""The sync card of "Sobre a sincronização" against a real Dovecot: the first round starts at
once, counts read right in both languages, skips count once per message, history in words."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from dashboard.models import utcnow
from dashboard.sync.runner import due_mailbox_ids
from tests.support import factories
from tests.support.clients import log_in
from tests.support.mailboxes import (
    MAILBOX_URL,
    at_noon_in_sao_paulo,
    connect,
    english_client,
    mail_on,
    mailbox_of,
)
from tests.support.sync import SENT, set_company, set_mailbox, sync
from tests.support.sync import connect as connect_directly

STATUS_URL = "/settings/mailbox/sync/status"
ALL_MAIL = "[Gmail]/Todos os e-mails"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def status_html(client) -> str:  # type: ignore[no-untyped-def]
    """The sync status partial as the page polls it."""
    response = client.get(STATUS_URL, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.data.decode()


def badges(html: str) -> list[str]:
    """The skip counts above the progress bars (the history repeats each round's own)."""
    counts = html[: html.index('class="progress-row"')]
    return re.findall(r'<span class="badge">([^<]*)</span>', counts)


def send_proposals(mailbox_user, count: int) -> None:  # type: ignore[no-untyped-def]
    """Proposals the rep sent to new prospects (each one is stored: it creates its lead)."""
    owner = mailbox_user.address
    for _ in range(count):
        prospect = f"compras{factories.next_number()}@prospect.test"
        mail = mail_on(at_noon_in_sao_paulo(2), sender=owner, to=prospect, subject="Proposta")
        mailbox_user.append(SENT, mail)


def test_connecting_through_the_page_starts_the_first_round_at_once(app, engine, rep, mailbox_user):
    client = log_in(app.test_client(), rep.email)
    assert connect(client, mailbox_user).status_code == 302
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox.id in due_mailbox_ids(engine, utcnow(), pressed_only=True)
    html = status_html(client)
    assert 'hx-trigger="every 2s"' in html  # the page follows the round live
    assert "A sincronização começa em instantes…" in html


def test_the_stored_count_reads_right_for_none_one_and_many(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    portuguese = log_in(app.test_client(), mailbox_user.address)
    english = english_client(app, mailbox_user.address)
    seen = []
    for new in (0, 1, 2):
        send_proposals(mailbox_user, new)
        assert sync(app, mailbox_id).error_code is None
        seen.append((status_html(portuguese), status_html(english)))
    (pt0, en0), (pt1, en1), (pt3, en3) = seen
    assert "Nenhum e-mail armazenado" in pt0 and "No email stored" in en0
    assert "<strong>0</strong>" not in pt0 + en0
    assert "<strong>1</strong> e-mail armazenado<" in pt1
    assert "<strong>1</strong> email stored<" in en1
    assert "<strong>3</strong> e-mails armazenados" in pt3
    assert "<strong>3</strong> emails stored" in en3


def test_ticking_all_mail_does_not_count_the_same_skips_twice(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    owner = mailbox_user.address
    for n in range(3):  # Gmail shows every message in INBOX and in "Todos os e-mails" too
        mail = mail_on(at_noon_in_sao_paulo(3), sender="colega@acme.test", to=owner, subject=f"{n}")
        mailbox_user.append("INBOX", mail)
        mailbox_user.append(ALL_MAIL, mail)
    assert sync(app, mailbox_id).error_code is None
    client = log_in(app.test_client(), owner)
    assert badges(status_html(client)) == ["Só internos: 3"]

    client.post(f"{MAILBOX_URL}folders", data={"folders": [ALL_MAIL]})
    assert sync(app, mailbox_id).error_code is None
    html = status_html(client)
    assert ALL_MAIL in html  # the folder was synced: its progress row is shown
    assert badges(html) == ["Só internos: 3"]  # each message once, not once per folder


def test_the_history_shows_the_cause_of_a_failed_round_in_words(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    box = app.extensions["leadsync.secrets"]
    set_mailbox(app.extensions["leadsync.engine"], mailbox_id, secret=box.encrypt("wrong-one"))
    assert sync(app, mailbox_id).error_code == "auth_failed"
    html = status_html(log_in(app.test_client(), mailbox_user.address))
    history = html[html.index('id="sync-history"') :]
    assert "O servidor recusou o endereço ou a senha de app." in history
    assert "auth_failed" not in html


def test_a_rescan_is_confirmed_with_the_day_in_the_viewers_format(app, admin, mailbox_user):
    connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), mailbox_user.address)
    day = date.today() - timedelta(days=40)
    response = client.post(
        "/settings/mailbox/sync/rescan", data={"since": day.isoformat()}, follow_redirects=True
    )
    assert f"{day.day} de " in response.data.decode()
    assert day.isoformat() not in response.data.decode()


def rescan_from(client, day: date) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        "/settings/mailbox/sync/rescan", data={"since": day.isoformat()}, follow_redirects=True
    )
    return response.data.decode()


def requested_rescan(app, mailbox_id: int) -> date | None:  # type: ignore[no-untyped-def]
    with app.extensions["leadsync.engine"].connect() as connection:
        since = connection.exec_driver_sql(
            "SELECT rescan_since FROM mailbox WHERE id = ?", (mailbox_id,)
        ).scalar()
    return date.fromisoformat(str(since)[:10]) if since else None


def test_a_rescan_before_the_retention_starts_where_the_company_keeps_mail(
    app, admin, mailbox_user
):
    """Asking for 2020 when the company keeps 12 months: the re-scan starts at the horizon
    and the page says so, instead of promising mail the sync will pass over."""
    mailbox_id = connect_directly(app, mailbox_user)
    set_company(app.extensions["leadsync.engine"], retention_months=12)
    client = log_in(app.test_client(), mailbox_user.address)

    html = rescan_from(client, date(2020, 1, 6))
    horizon = requested_rescan(app, mailbox_id)
    assert horizon is not None and date.today() - timedelta(days=372) < horizon
    assert "guarda e-mails por 12 meses" in html and f"{horizon.day} de " in html


def test_a_rescan_from_a_day_to_come_is_refused(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), mailbox_user.address)
    html = rescan_from(client, date.today() + timedelta(days=3))
    assert "Escolha um dia que já passou" in html
    assert requested_rescan(app, mailbox_id) is None


def test_the_history_counts_the_copies_seen_again(app, admin, mailbox_user):
    """The same proposal twice in Sent (one batch) and in "Todos os e-mails": one email
    stored, two copies seen again, and the round's numbers add up on the page."""
    engine = app.extensions["leadsync.engine"]
    mailbox_id = connect_directly(app, mailbox_user)
    set_mailbox(engine, mailbox_id, folders=["INBOX", SENT, ALL_MAIL])
    owner = mailbox_user.address
    mail = mail_on(at_noon_in_sao_paulo(2), sender=owner, to="compras@prospect.test",
                   subject="Proposta")  # fmt: skip
    for folder in (SENT, SENT, ALL_MAIL):
        mailbox_user.append(folder, mail)
    assert sync(app, mailbox_id).error_code is None

    html = status_html(log_in(app.test_client(), owner))

    history = html[html.index('id="sync-history"') :]
    headers = re.findall(r"<th>([^<]*)</th>", history)
    assert headers[2:6] == ["Baixados", "Armazenados", "Vistos de novo", "Ignorados"]
    cells = re.findall(r"<td>([^<]*)</td>", history[history.index("<tbody>") :])
    assert cells[2:5] == ["3", "1", "2"]  # fetched, stored, seen again


def test_the_card_says_real_time_while_the_inbox_idles_else_the_interval(
    app, engine, admin, mailbox_user
):  # type: ignore[no-untyped-def]
    mailbox_id = connect_directly(app, mailbox_user)
    set_company(engine, interval_minutes=60)
    client = english_client(app, mailbox_user.address)
    portuguese = log_in(app.test_client(), mailbox_user.address)
    assert "New mail arrives every 60 minutes." in status_html(client)
    assert "Novos e-mails chegam a cada 60 minutos." in status_html(portuguese)
    set_mailbox(engine, mailbox_id, idle_since=utcnow())  # the sync process idles on INBOX
    html = status_html(client)
    assert "Real time" in html and "every 60 minutes" not in html
    assert "Tempo real" in status_html(portuguese)
    console = english_client(app, admin.email).get("/settings/team-mailboxes/")
    assert 'class="hint idle-cadence">Real time<' in console.data.decode()
