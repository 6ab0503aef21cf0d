"""The rep's notifications over HTTP: the badge alone, the dropdown's list for htmx, a full
page opened directly, marking read (one, all) with CSRF, and nobody else's rows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Notification
from tests.support.leads import ENGLISH, HTMX, page, text_of
from tests.support.sending import make_lead, notify


@pytest.fixture
def app_config() -> dict:
    """English labels."""
    return ENGLISH


def badge_count(html: str) -> int:
    """The number the bell shows (0 when it shows none)."""
    found = re.search(r'id="notification-badge"[^>]*>\s*<span class="badge[^>]*>(\d+)<', html)
    return int(found.group(1)) if found else 0


def read_flags(engine) -> dict[int, bool]:  # type: ignore[no-untyped-def]
    """Every notification's id and whether it was read."""
    with read_session(engine) as session:
        return {n.id: n.read_at is not None for n in session.scalars(select(Notification))}


def test_the_badge_answers_only_the_unread_count(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    notify(engine, rep, lead)
    notify(engine, rep, lead, "click")
    html = page(rep_client, "/notifications/badge", headers=HTMX)
    assert badge_count(html) == 2
    assert "Joana" not in html  # the badge, not the list


def test_the_badge_polls_itself_on_the_configured_interval(app, rep_client) -> None:  # type: ignore[no-untyped-def]
    app.config["NOTIFICATION_POLL_SECONDS"] = 7
    html = page(rep_client, "/notifications/badge", headers=HTMX)
    assert 'hx-trigger="every 7s"' in html and 'hx-target="this"' in html
    assert badge_count(html) == 0


def test_every_page_loads_the_badge_apart_from_the_dropdown(rep_client) -> None:  # type: ignore[no-untyped-def]
    html = page(rep_client, "/leads/")
    header = html[html.index('id="notifications"') : html.index("</details>")]
    assert 'hx-get="/notifications/badge"' in header
    assert "every " not in header.split('id="notification-badge"')[0]  # the dropdown never polls


def test_htmx_gets_the_dropdown_list_with_the_badge_out_of_band(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    notify(engine, rep, lead)
    html = page(rep_client, "/notifications", headers=HTMX)
    assert "<html" not in html
    assert "Joana Silva opened your email" in text_of(html)
    assert 'hx-swap-oob="true"' in html and badge_count(html) == 1


def test_opened_directly_notifications_are_a_full_page(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    first, _ = make_lead(engine, "Ana Antiga")
    newest, _ = make_lead(engine, "Nina Nova")
    notify(engine, rep, first)
    notify(engine, rep, newest, "reply")
    html = page(rep_client, "/notifications")
    assert "<html" in html and 'class="topbar"' in html
    text = text_of(html)
    assert text.index("Nina Nova replied") < text.index("Ana Antiga opened your email")


def test_the_full_page_is_paginated(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    ids = [notify(engine, rep, lead) for _ in range(27)]
    first = page(rep_client, "/notifications")
    assert first.count('class="notification unread"') == 25
    assert "/notifications?page=2" in first
    second = page(rep_client, "/notifications?page=2")
    assert second.count('class="notification unread"') == 2
    oldest = f"/notifications/{ids[0]}/read"
    assert oldest in second and oldest not in first


def test_marking_one_read_lowers_the_badge(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    one, other = notify(engine, rep, lead), notify(engine, rep, lead)
    response = rep_client.post(f"/notifications/{one}/read", headers=HTMX)
    assert response.status_code == 200
    assert badge_count(response.get_data(as_text=True)) == 1
    assert read_flags(engine) == {one: True, other: False}


def test_marking_all_read_without_htmx_goes_back_to_the_page(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    notify(engine, rep, lead), notify(engine, rep, lead)
    response = rep_client.post("/notifications/read", data={"page": "1"})
    assert response.status_code == 302 and response.location.endswith("/notifications?page=1")
    assert set(read_flags(engine).values()) == {True}
    assert badge_count(page(rep_client, "/notifications/badge", headers=HTMX)) == 0


def test_marking_read_needs_the_csrf_token(engine, rep, rep_client) -> None:  # type: ignore[no-untyped-def]
    lead, _ = make_lead(engine, "Joana Silva")
    one = notify(engine, rep, lead)
    assert rep_client.post(f"/notifications/{one}/read", csrf=False).status_code == 400
    assert rep_client.post("/notifications/read", csrf=False).status_code == 400
    assert read_flags(engine) == {one: False}


def test_nobody_sees_or_marks_another_users_notifications(  # type: ignore[no-untyped-def]
    engine, rep, teammate, rep_client
) -> None:
    lead, _ = make_lead(engine, "Joana Silva")
    theirs = notify(engine, teammate, lead)
    mine = notify(engine, rep, lead, "reply")
    assert rep_client.post(f"/notifications/{theirs}/read", headers=HTMX).status_code == 404
    rep_client.post("/notifications/read", headers=HTMX)
    assert read_flags(engine) == {theirs: False, mine: True}
    listed = page(rep_client, "/notifications")
    assert f"/notifications/{theirs}/read" not in listed and "opened your email" not in listed


def test_anonymous_visitors_are_sent_to_login(admin, client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/notifications", "/notifications/badge"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location
