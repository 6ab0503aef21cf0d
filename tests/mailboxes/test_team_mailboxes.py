"""The admins' team console on the web: every route refuses reps (404) and anonymous users
(login), the admin connects a rep's mailbox against the real Dovecot, acts on it, reads its
ledger and problem notes, and counts it on the server for the health line."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Email, Mailbox, MailboxEvent, SkippedMessage
from dashboard.states import MailboxStatus
from tests.support.lead_data import lead_data
from tests.support.mailboxes import (
    at_noon_in_sao_paulo,
    audit_events,
    connect_form,
    english_client,
    mail_on,
    mailbox_of,
)
from tests.support.sync import SENT, sync

INVALID_CREDENTIALS = "The server refused the address or the app password."
CONSOLE = "/settings/team-mailboxes/"


def team_url(user_id: int, rest: str = "") -> str:
    """A URL of a teammate's mailbox pages."""
    return f"{CONSOLE}{user_id}/{rest}"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def admin_en(app, admin):  # type: ignore[no-untyped-def]
    """The admin, with an English browser."""
    return english_client(app, admin.email)


@pytest.fixture
def rep_en(app, rep):  # type: ignore[no-untyped-def]
    """The rep, with an English browser."""
    return english_client(app, rep.email)


@pytest.fixture
def seeded_box(app: Flask, engine, rep, teammate):  # type: ignore[no-untyped-def]
    """The rep's mailbox with a (fake) saved secret, a stored email and ledger rows."""
    with lead_data(engine) as data:
        lead = data.lead(name="Lia Cliente", owner=rep)
        email = data.email(lead, rep=rep, subject="Contrato secreto")
        data.no_lead_skip(rep, "fulano@cliente.test")
    with write_session(engine) as session:
        box = session.exec(select(Mailbox).where(Mailbox.user_id == rep.id)).one()
        box.secret = app.extensions["leadsync.secrets"].encrypt("not-a-real-password")
        box.imap_port = 9  # nothing answers: an action that logs in fails at once
        session.get(Email, email.id).problems = ["no Date"]
        return box


def team_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, rule) of every route under the team console."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("team."):
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                found.append((method, rule.rule))
    return found


def test_every_team_route_is_404_for_reps_and_asks_anonymous_users_to_log_in(
    app, client, rep, teammate, seeded_box
):
    routes = team_routes(app)
    assert len(routes) >= 13  # the console, its ledger and count, and the mounted views
    rep_client = english_client(app, rep.email)
    for method, rule in routes:
        for whose in (teammate.id, rep.id):  # a teammate's, and their own through the door
            url = rule.replace("<int:user_id>", str(whose))
            assert rep_client.open(url, method=method).status_code == 404, (method, url)
        url = rule.replace("<int:user_id>", str(rep.id))
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert "/login" in response.headers["Location"]


def test_every_team_route_answers_the_admin(app, admin_en, rep, seeded_box):
    last = lambda route: route[1].endswith("/disconnect")  # noqa: E731 (the others need it)
    for method, rule in sorted(team_routes(app), key=last):
        url = rule.replace("<int:user_id>", str(rep.id))
        response = admin_en.open(url, method=method)
        assert response.status_code in (200, 302, 303, 422), (method, url, response.status_code)


def test_an_unknown_teammate_is_404_for_the_admin(admin_en):
    assert admin_en.get(team_url(999999)).status_code == 404
    assert admin_en.get(team_url(999999, "ledger")).status_code == 404


def test_team_posts_need_the_csrf_token(app, admin_en, rep, seeded_box):
    for method, rule in team_routes(app):
        if method == "POST":
            url = rule.replace("<int:user_id>", str(rep.id))
            assert admin_en.post(url, csrf=False).status_code == 400, url


def test_the_console_lists_everyone_with_counts_and_links(admin_en, rep, teammate, seeded_box):
    html = admin_en.get(CONSOLE).data.decode()
    assert rep.name in html and teammate.name in html
    assert "No lead: 1" in html
    assert f'href="{team_url(rep.id)}"' in html
    assert f'href="{team_url(teammate.id)}"' in html  # no mailbox: connect for them
    assert "Connect for them" in html
    assert 'href="/settings/team-mailboxes/?sort=stored"' in html
    assert "Team mailboxes" in html  # in the settings panel


def test_the_settings_panel_offers_the_console_to_admins_only(admin_en, rep_en):
    assert CONSOLE in admin_en.get("/settings/profile").data.decode()
    assert CONSOLE not in rep_en.get("/settings/profile").data.decode()


def test_the_users_page_links_each_user_to_their_mailbox_page(admin_en, rep):
    assert f'href="{team_url(rep.id)}"' in admin_en.get("/settings/users/").data.decode()


def test_the_admin_connects_a_reps_mailbox_verified_by_the_real_server(
    app, engine, admin, admin_en, rep, rep_en, mailbox_user
):
    wrong = "wrongwrongwrongx"
    response = admin_en.post(team_url(rep.id), data=connect_form(mailbox_user, password=wrong))
    assert response.status_code == 422
    assert INVALID_CREDENTIALS in response.data.decode()
    assert mailbox_of(engine, rep.id) is None

    response = admin_en.post(team_url(rep.id), data=connect_form(mailbox_user))
    assert response.status_code == 302
    assert response.headers["Location"] == team_url(rep.id)
    box = mailbox_of(engine, rep.id)
    assert box is not None and box.connected and box.address == mailbox_user.address
    assert mailbox_of(engine, admin.id) is None  # the rep's, not the admin's
    assert box.connected_by_user_id == admin.id and box.connected_at is not None

    connects = [e for e in audit_events(engine) if e.action == "mailbox.connect"]
    assert len(connects) == 1
    assert connects[0].actor_id == admin.id and connects[0].changes["user"] == rep.email
    company = admin_en.get("/settings/company").data.decode()
    assert f"{admin.name} connected the mailbox {mailbox_user.address} of {rep.name}" in company

    rep_page = rep_en.get("/settings/mailbox/").data.decode()
    assert f"Connected by {admin.name} on" in rep_page
    admin_page = admin_en.get(team_url(rep.id)).data.decode()
    assert f"Mailbox of {rep.name}" in admin_page
    with read_session(engine) as session:
        details = " ".join(e.detail for e in session.exec(select(MailboxEvent)))
    texts = [rep_page, admin_page, company, admin_en.get(CONSOLE).data.decode(), details,
             " ".join(str(e.changes) for e in audit_events(engine))]  # fmt: skip
    for text in texts:
        assert mailbox_user.password not in text
        assert wrong not in text
    for page in (rep_page, admin_page):
        for field in re.findall(r'<input[^>]*type="password"[^>]*>', page):
            assert 'value=""' in field or "value=" not in field


def test_a_rep_connecting_their_own_mailbox_is_not_said_to_be_connected_by_anyone(
    engine, rep, rep_en, mailbox_user
):
    assert rep_en.post("/settings/mailbox/", data=connect_form(mailbox_user)).status_code == 302
    assert mailbox_of(engine, rep.id).connected_by_user_id == rep.id
    assert "Connected by" not in rep_en.get("/settings/mailbox/").data.decode()


def test_the_admin_syncs_rescans_and_disconnects_the_reps_mailbox(
    engine, admin, admin_en, rep, seeded_box
):
    response = admin_en.post(team_url(rep.id, "sync/now"))
    assert response.headers["Location"] == team_url(rep.id)
    assert mailbox_of(engine, rep.id).next_sync_at is not None
    admin_en.post(team_url(rep.id, "sync/rescan"), data={"since": "2026-01-05"})
    assert mailbox_of(engine, rep.id).rescan_since.date().isoformat() == "2026-01-05"
    response = admin_en.post(team_url(rep.id, "disconnect"))
    assert response.headers["Location"] == team_url(rep.id)
    box = mailbox_of(engine, rep.id)
    assert box.secret is None and box.status == MailboxStatus.DISCONNECTED
    last = audit_events(engine)[-1]
    assert (last.action, last.actor_id) == ("mailboxes.disconnect", admin.id)


def test_the_ledger_filters_by_reason_and_day_and_pages_with_a_total(
    engine, admin_en, rep, seeded_box
):
    with write_session(engine) as session:
        for n in range(55):
            day = datetime(2026, 3, 1 + n % 2, 15, tzinfo=UTC)
            session.add(SkippedMessage(mailbox_id=seeded_box.id, folder="INBOX", uidvalidity=1,
                                       uid=10_000 + n, reason="automated", subject=f"News {n}",
                                       date=day))  # fmt: skip
        session.add(SkippedMessage(mailbox_id=seeded_box.id, folder="INBOX", uidvalidity=1,
                                   uid=20_000, reason="parse_error", subject="Broken",
                                   detail="ValueError: nesting too deep"))  # fmt: skip
    html = admin_en.get(team_url(rep.id, "ledger")).data.decode()
    assert "57 messages not stored" in html and "Page 1 of 2" in html
    html = admin_en.get(team_url(rep.id, "ledger?reason=parse_error")).data.decode()
    assert "1 message not stored" in html and "ValueError: nesting too deep" in html
    assert "News 1" not in html
    html = admin_en.get(team_url(rep.id, "ledger?reason=automated&since=2026-03-02")).data.decode()
    assert "27 messages not stored" in html  # the odd ones, on the 2nd
    html = admin_en.get(team_url(rep.id, "ledger?reason=automated&page=2")).data.decode()
    assert "Page 2 of 2" in html and html.count("News ") == 5


def test_the_ledger_lists_problem_notes_with_a_link_to_the_lead_not_the_content(
    engine, admin_en, rep, seeded_box
):
    html = admin_en.get(team_url(rep.id, "ledger")).data.decode()
    notes = html[html.index('id="problem-notes"') :]
    assert "no Date" in notes and "Lia Cliente" in notes
    assert re.search(r'href="/leads/\d+"', notes)
    assert "Contrato secreto" not in html  # the subject is read where the privacy rule says


def test_why_on_a_teammates_mailbox_searches_only_what_was_not_stored(admin_en, rep, seeded_box):
    html = admin_en.get(team_url(rep.id, "sync/why?q=Contrato")).data.decode()
    assert "Contrato secreto" not in html
    html = admin_en.get(team_url(rep.id, "sync/why?q=Skipped")).data.decode()
    assert "Skipped" in html and 'id="why-skipped"' in html


def test_the_health_line_counts_on_the_server_only_when_asked(
    app, engine, admin_en, rep, mailbox_user
):
    assert admin_en.post(team_url(rep.id), data=connect_form(mailbox_user)).status_code == 302
    box = mailbox_of(engine, rep.id)
    for n in range(3):
        mail = mail_on(at_noon_in_sao_paulo(2), sender=mailbox_user.address,
                       to=f"p{n}@prospect.test", subject="Proposta")  # fmt: skip
        mailbox_user.append(SENT, mail)
    sync(app, box.id)
    page = admin_en.get(team_url(rep.id)).data.decode()
    assert "not verified" in page and "Count on the server" in page
    response = admin_en.post(team_url(rep.id, "health"), headers={"HX-Request": "true"})
    assert "3 of 3 accounted for" in response.data.decode()
    assert "nothing missing" in response.data.decode()
    mailbox_user.append("INBOX", mail_on(at_noon_in_sao_paulo(1), sender="x@y.test", to="z@w.test"))
    response = admin_en.post(team_url(rep.id, "health"), headers={"HX-Request": "true"})
    assert "3 of 4 accounted for" in response.data.decode()
    assert "1 not accounted for" in response.data.decode()
    assert "3 of 4 accounted for" in admin_en.get(CONSOLE).data.decode()  # kept, not asked again
    # Disconnected (and its history possibly removed): the kept count means nothing now.
    admin_en.post(team_url(rep.id, "disconnect"), data={"history": "remove"})
    console = admin_en.get(CONSOLE).data.decode()
    assert "of 4 accounted for" not in console and "not accounted for" not in console
