"""The first sync's estimate on "Sobre a sincronização": counted on a real Dovecot, worded
with the viewer's numbers, kept for a while, and never a failed page."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from flask import render_template

from dashboard.mailboxes import estimate as estimates
from dashboard.mailboxes.estimate import Estimate, EstimateCache
from tests.support.clients import log_in
from tests.support.mailboxes import MAILBOX_URL, connect, english_client, mail_on
from tests.support.sync import SENT, imap_commands, set_mailbox, sync
from tests.support.sync import connect as connect_directly

ESTIMATE_URL = "/settings/mailbox/sync/estimate"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def fill(mailbox_user, recent: int, old: int) -> None:  # type: ignore[no-untyped-def]
    """Internal mail: `recent` in the last days (INBOX and Sent), `old` from months ago."""
    now = dt.datetime.now(dt.UTC)
    for n in range(recent + old):
        when = now - dt.timedelta(days=2 if n < recent else 120)
        folder = SENT if n % 2 else "INBOX"
        mail = mail_on(when, sender="colega@acme.test", to=mailbox_user.address, subject=f"{n}")
        mailbox_user.append(folder, mail, msg_time=when)


def estimate_text(client) -> str:  # type: ignore[no-untyped-def]
    """The estimate the page loads after itself."""
    response = client.get(ESTIMATE_URL, headers=HTMX)
    assert response.status_code == 200
    return " ".join(response.data.decode().split())


def test_a_rep_sees_the_window_and_what_is_left_out_and_whom_to_ask(app, admin, mailbox_user):
    fill(mailbox_user, recent=3, old=2)
    connect_directly(app, mailbox_user)
    text = estimate_text(log_in(app.test_client(), mailbox_user.address))
    assert "Cerca de 3 e-mails nos últimos 30 dias; 2 mais antigos ficam de fora" in text
    assert "peça a um administrador para mudar o período" in text
    assert "/settings/company" not in text


def test_an_admin_gets_a_link_to_change_the_period(app, admin, mailbox_user):
    fill(mailbox_user, recent=1, old=1)
    client = english_client(app, admin.email)
    assert connect(client, mailbox_user).status_code == 302
    text = estimate_text(client)
    assert "About 1 email in the last 30 days; 1 older one is left out" in text
    assert 'href="/settings/company#sync-settings-form">change the period</a>' in text


def test_the_page_asks_for_the_estimate_after_itself_then_shows_the_kept_one(
    app, admin, mailbox_user, monkeypatch
):
    fill(mailbox_user, recent=2, old=0)
    connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), mailbox_user.address)
    page = client.get(MAILBOX_URL).data.decode()
    assert f'hx-get="{ESTIMATE_URL}" hx-trigger="load"' in page
    assert "Cerca de 2 e-mails nos últimos 30 dias." in estimate_text(client)
    with imap_commands(monkeypatch) as log:
        page = client.get(MAILBOX_URL).data.decode()
        again = estimate_text(client)
    assert log.calls == []  # the status is polled every 2 s: no IMAP for a kept estimate
    assert "Cerca de 2 e-mails nos últimos 30 dias." in " ".join(page.split())
    assert f'hx-get="{ESTIMATE_URL}"' not in page
    assert "Cerca de 2 e-mails" in again


def test_new_folders_are_counted_again(app, admin, mailbox_user, monkeypatch):
    fill(mailbox_user, recent=1, old=0)
    connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), mailbox_user.address)
    estimate_text(client)
    client.post(f"{MAILBOX_URL}folders", data={"folders": ["[Gmail]/Todos os e-mails"]})
    with imap_commands(monkeypatch) as log:
        estimate_text(client)
    assert log.count("select_folder") == 3


def test_a_silent_server_leaves_the_page_without_an_estimate(app, admin, mailbox_user, monkeypatch):
    monkeypatch.setattr(estimates, "COUNT_SECONDS", 1.0)
    mailbox_id = connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), mailbox_user.address)
    with socket.socket() as silent:  # accepts TCP (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        set_mailbox(
            app.extensions["leadsync.engine"], mailbox_id, imap_port=silent.getsockname()[1]
        )
        assert "Cerca de" not in estimate_text(client)
        page = client.get(MAILBOX_URL)
    assert page.status_code == 200
    assert f'hx-get="{ESTIMATE_URL}"' not in page.data.decode()  # not asked again for a while


def test_the_estimate_goes_once_mail_is_stored(app, admin, mailbox_user):
    owner = mailbox_user.address
    mailbox_id = connect_directly(app, mailbox_user)
    client = log_in(app.test_client(), owner)
    assert sync(app, mailbox_id).error_code is None
    assert 'id="sync-estimate"' in client.get(MAILBOX_URL).data.decode()  # nothing stored yet
    sent = mail_on(dt.datetime.now(dt.UTC), sender=owner, to="compras@prospect-est.test")
    mailbox_user.append(SENT, sent)
    assert sync(app, mailbox_id).error_code is None
    assert 'id="sync-estimate"' not in client.get(MAILBOX_URL).data.decode()


@pytest.mark.parametrize(
    ("language", "estimate", "expected"),
    [
        ("pt_BR", Estimate(2700, 800, 30), "Cerca de 2.700 e-mails nos últimos 30 dias; "
         "800 mais antigos ficam de fora — peça a um administrador para mudar o período."),
        ("en", Estimate(2700, 800, 30), "About 2,700 emails in the last 30 days; "
         "800 older ones are left out — ask an administrator to change the period."),
        ("pt_BR", Estimate(0, 12, 1), "Nenhum e-mail no último dia; "
         "12 mais antigos ficam de fora"),
        ("pt_BR", Estimate(1, 0, 7), "Cerca de 1 e-mail nos últimos 7 dias."),
    ],
)  # fmt: skip
def test_the_numbers_are_written_in_the_viewers_language(app, language, estimate, expected):
    with app.test_request_context(headers={"Accept-Language": language.replace("_", "-")}):
        html = render_template("mailboxes/_estimate.html", estimate=estimate)
    assert expected in " ".join(html.split())


def test_the_cache_keeps_answers_for_a_while_and_lets_one_request_count_at_a_time():
    now = [100.0]
    cache = EstimateCache(clock=lambda: now[0])
    assert cache.claim(1) and not cache.claim(1) and cache.claim(2)
    cache.keep(1, "key", Estimate(5, 1, 30), 300)
    cache.release(1)
    assert cache.claim(1)
    assert cache.lookup(1, "key").estimate == Estimate(5, 1, 30)
    assert cache.lookup(1, "other key") is None
    now[0] += 301
    assert cache.lookup(1, "key") is None


def test_a_mailbox_whose_password_was_refused_is_not_counted(app, admin, mailbox_user):
    mailbox_id = connect_directly(app, mailbox_user)
    box = app.extensions["leadsync.secrets"]
    set_mailbox(app.extensions["leadsync.engine"], mailbox_id, secret=box.encrypt("wrong-one"))
    assert sync(app, mailbox_id).error_code == "auth_failed"
    page = log_in(app.test_client(), mailbox_user.address).get(MAILBOX_URL).data.decode()
    assert "O servidor recusou o endereço ou a senha de app." in page
    assert 'id="sync-estimate"' not in page
