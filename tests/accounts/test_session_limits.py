"""Sessions end: after SESSION_IDLE_MINUTES unused, and SESSION_MAX_HOURS after the login,
remember-me included (dashboard/web/sessions.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from flask_login.utils import encode_cookie

from dashboard.web.sessions import split_identity
from tests.support.clients import log_in
from tests.support.leads import page, text_of

EXPIRED = "Your session expired. Please log in again."


@pytest.fixture
def app_config() -> dict:
    """English UI; one idle hour, a two-day lifetime."""
    return {"LANGUAGES": ("en", "pt_BR"), "SESSION_IDLE_MINUTES": 60, "SESSION_MAX_HOURS": 48}


def age_session(client, *, idle: int = 0, login: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Move the session's last activity `idle` seconds and its login `login` seconds back."""
    with client.session_transaction() as session:
        session["seen_at"] -= idle
        user_id, token, started = split_identity(session["_user_id"])
        session["_user_id"] = f"{user_id}:{token}:{started - login}"


def logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    """True when the home page opens; False when it sends the visitor to login."""
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_session_used_within_the_idle_limit_stays(admin_client):
    age_session(admin_client, idle=59 * 60)
    assert logged_in(admin_client)
    age_session(admin_client, idle=59 * 60)  # each request restarts the idle clock
    assert logged_in(admin_client)


def test_an_idle_session_ends_with_a_message(admin_client):
    age_session(admin_client, idle=61 * 60)
    response = admin_client.get("/leads/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert EXPIRED in text_of(page(admin_client, response.headers["Location"]))
    assert not logged_in(admin_client)  # the session is gone, not just refused once


def test_an_expired_htmx_request_gets_hx_redirect_to_login(admin_client):
    age_session(admin_client, idle=61 * 60)
    response = admin_client.get("/leads/?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_an_expired_session_cannot_post(admin_client, admin, engine):
    age_session(admin_client, idle=61 * 60)
    response = admin_client.post("/leads/new", data={"name": "X", "addresses": "x@x.test"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_busy_session_still_ends_at_the_absolute_lifetime(admin_client):
    age_session(admin_client, login=47 * 3600)
    assert logged_in(admin_client)
    age_session(admin_client, login=2 * 3600)  # 49 hours since the password was typed
    assert not logged_in(admin_client)


def test_a_session_without_a_login_time_is_ended(admin_client, admin):
    """Sessions made before the limits existed carry no login time: they log in again."""
    with admin_client.session_transaction() as session:
        session["_user_id"] = f"{admin.id}:{split_identity(session['_user_id'])[1]}"
    assert not logged_in(admin_client)


def test_the_remember_me_cookie_expires_with_the_absolute_lifetime(client, admin):
    log_in(client, admin.email, remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.expires is not None
    lifetime = cookie.expires - datetime.now(UTC)
    assert timedelta(hours=47) < lifetime <= timedelta(hours=48)


def test_remember_me_restores_a_closed_browser_within_the_lifetime(client, admin):
    log_in(client, admin.email, remember=True)
    client.delete_cookie("session")  # the browser was closed
    assert logged_in(client)


def test_an_outlived_remember_me_cookie_logs_nobody_in_and_is_deleted(app, client, admin):
    log_in(client, admin.email, remember=True)
    with client.session_transaction() as session:
        user_id, token, started = split_identity(session["_user_id"])
    client.delete_cookie("session")
    with app.test_request_context():
        old = encode_cookie(f"{user_id}:{token}:{started - 49 * 3600}")
    client.set_cookie("remember_token", old)  # a cookie kept (or copied) past its expiry
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get_cookie("remember_token") is None
    assert EXPIRED in text_of(page(client, "/login"))


def test_an_idle_remembered_session_loses_its_remember_me_cookie_too(client, admin):
    log_in(client, admin.email, remember=True)
    age_session(client, idle=61 * 60)
    assert not logged_in(client)
    assert client.get_cookie("remember_token") is None
    assert not logged_in(client)


def test_a_password_change_keeps_the_login_time(admin_client, admin):
    with admin_client.session_transaction() as session:
        before = split_identity(session["_user_id"])[2]
    time.sleep(1.1)
    response = admin_client.post(
        "/settings/password",
        data={"current": "correct-horse-42", "password": "another-horse-77",
              "confirm": "another-horse-77"},
    )  # fmt: skip
    assert response.status_code == 200, response.data[:300]
    with admin_client.session_transaction() as session:
        assert split_identity(session["_user_id"])[2] == before


def test_the_defaults_are_twelve_idle_hours_and_thirty_days():
    from dashboard.config import Defaults

    assert (Defaults.SESSION_IDLE_MINUTES, Defaults.SESSION_MAX_HOURS) == (12 * 60, 30 * 24)
