"""Login, logout, throttling, session revocation, fresh login and password storage."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dashboard.accounts import service as accounts
from dashboard.db.engine import read_session, write_session
from dashboard.models import User
from tests.support.clients import log_in
from tests.support.factories import PASSWORD

NEW_PASSWORD = "another-horse-77"


@pytest.fixture
def app_config() -> dict:
    """English UI, so assertions read the msgids whatever the pt_BR catalog says."""
    return {"LANGUAGES": ("en", "pt_BR")}


def attempt(client, email: str, password: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    """Post the login form from a given client address."""
    return client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def is_logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    """True when the home page opens instead of redirecting to the login page."""
    response = client.get("/")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def copy_cookies(source, target, *names: str) -> None:  # type: ignore[no-untyped-def]
    """Give another client a copy of some of this client's cookies (a stolen or second tab)."""
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, f"no {name} cookie"
        target.set_cookie(name, cookie.value)


def message_of(response) -> str:  # type: ignore[no-untyped-def]
    """The form's error text of a login page."""
    page = response.data.decode()
    return page[page.index("Too many") : page.index("try again.")]


def load_user(engine, user_id: int) -> User:  # type: ignore[no-untyped-def]
    """Read a user straight from the database."""
    with read_session(engine) as session:
        return session.get(User, user_id)


def test_login_page_is_shown(client, admin):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="email"' in response.data and b'name="password"' in response.data


def test_user_logs_in_and_lands_on_home(client, admin):
    response = attempt(client, admin.email, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_logged_in(client)


def test_login_ignores_the_case_of_the_email(client, admin):
    assert attempt(client, admin.email.upper(), PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_wrong_password_shows_a_message_and_does_not_log_in(client, admin):
    response = attempt(client, admin.email, "wrong-password-1")
    assert response.status_code == 422
    assert "Wrong email or password." in response.data.decode()
    assert not is_logged_in(client)


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client, admin):
    response = attempt(client, "nobody@acme.test", "wrong-password-1")
    assert response.status_code == 422
    assert "Wrong email or password." in response.data.decode()


def test_logout_ends_the_session(admin_client):
    response = admin_client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not is_logged_in(admin_client)


def test_logout_deletes_the_remember_me_cookie(client, admin):
    log_in(client, admin.email, remember=True)
    assert client.get_cookie("remember_token") is not None
    client.post("/logout")
    assert client.get_cookie("remember_token") is None


def test_logout_is_refused_over_get(admin_client):
    assert admin_client.get("/logout").status_code == 405
    assert is_logged_in(admin_client)


def test_ten_failures_from_one_address_lock_that_account_there_even_with_the_right_password(
    client, admin
):  # type: ignore[no-untyped-def]
    for _ in range(10):
        assert attempt(client, admin.email, "wrong-password-1", ip="10.0.0.1").status_code == 422
    response = attempt(client, admin.email, PASSWORD, ip="10.0.0.1")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.data.decode()
    assert not is_logged_in(client)


def test_an_attackers_failures_lock_neither_other_accounts_nor_the_owner_elsewhere(app, admin, rep):  # type: ignore[no-untyped-def]
    """Ten failures from address A on account X: X still logs in from B, Y from A."""
    attacker = app.test_client()
    for _ in range(10):
        attempt(attacker, admin.email, "wrong-password-1", ip="10.0.0.1")
    assert attempt(attacker, admin.email, PASSWORD, ip="10.0.0.1").status_code == 429
    assert attempt(app.test_client(), admin.email, PASSWORD, ip="10.0.0.2").status_code == 302
    assert attempt(app.test_client(), rep.email, PASSWORD, ip="10.0.0.1").status_code == 302


def test_nine_failures_from_one_address_do_not_lock(client, admin):
    for _ in range(9):
        attempt(client, admin.email, "wrong-password-1", ip="10.0.0.1")
    assert attempt(client, admin.email, PASSWORD, ip="10.0.0.1").status_code == 302


def test_an_account_guessed_from_many_addresses_locks_at_its_own_higher_limit(client, admin, app):
    limit = app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 14
    for n in range(limit - 1):
        attempt(client, admin.email, "wrong-password-1", ip=f"10.0.{n // 5}.{n}")
    assert attempt(app.test_client(), admin.email, PASSWORD, ip="10.0.9.1").status_code == 302
    attempt(client, admin.email, "wrong-password-1", ip="10.0.8.8")
    response = attempt(client, admin.email, PASSWORD, ip="10.0.9.2")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.data.decode()


def test_spraying_many_accounts_from_one_address_locks_that_address(client, admin, app):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"] = 12
    for n in range(limit):
        attempt(client, f"someone{n % 3}@acme.test", "wrong-password-1", ip="10.9.9.9")
    response = attempt(client, admin.email, PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.data.decode()
    other = app.test_client()
    assert attempt(other, admin.email, PASSWORD, ip="10.9.9.10").status_code == 302


def test_a_locked_unknown_account_gets_the_same_message(client, admin):
    for _ in range(10):
        attempt(client, "nobody@acme.test", "wrong-password-1", ip="10.0.0.1")
    unknown = attempt(client, "nobody@acme.test", "wrong-password-1", ip="10.0.0.1")
    for _ in range(10):
        attempt(client, admin.email, "wrong-password-1", ip="10.0.0.2")
    known = attempt(client, admin.email, "wrong-password-1", ip="10.0.0.2")
    assert unknown.status_code == known.status_code == 429
    assert message_of(unknown) == message_of(known)


def test_without_trusted_proxies_a_forged_x_forwarded_for_is_ignored(client, admin):
    for n in range(10):
        client.post(
            "/login",
            data={"email": admin.email, "password": "wrong-password-1"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
    response = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.99"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert response.status_code == 429


def test_successful_login_clears_the_failures_of_that_address(client, admin, app):
    for _ in range(9):
        attempt(client, admin.email, "wrong-password-1", ip="10.0.0.1")
    assert attempt(app.test_client(), admin.email, PASSWORD, ip="10.0.0.1").status_code == 302
    for _ in range(9):
        attempt(client, admin.email, "wrong-password-1", ip="10.0.0.1")
    assert attempt(client, admin.email, PASSWORD, ip="10.0.0.1").status_code == 302


def test_deactivated_user_cannot_log_in(client, rep, engine):
    with write_session(engine) as session:
        accounts.set_active(session, session.get(User, rep.id), False)
    response = attempt(client, rep.email, PASSWORD)
    assert response.status_code == 422
    assert "deactivated" in response.data.decode()
    assert not is_logged_in(client)


def test_deactivated_users_open_session_is_dropped(admin_client, rep_client, rep):
    assert is_logged_in(rep_client)
    assert admin_client.post(f"/settings/users/{rep.id}/active").status_code == 302
    assert not is_logged_in(rep_client)


def test_logout_invalidates_every_copy_of_the_session_cookie(app, admin_client):
    second = app.test_client()
    copy_cookies(admin_client, second, "session")
    assert is_logged_in(second)
    admin_client.post("/logout")
    assert not is_logged_in(second)


def test_logout_invalidates_the_remember_me_cookie(app, client, admin):
    log_in(client, admin.email, remember=True)
    stolen = app.test_client()
    copy_cookies(client, stolen, "remember_token")
    assert is_logged_in(stolen)
    client.post("/logout")
    assert not is_logged_in(stolen)


def test_password_change_invalidates_other_remember_me_cookies(app, client, admin):
    log_in(client, admin.email, remember=True)
    other = app.test_client()
    copy_cookies(client, other, "remember_token")
    assert is_logged_in(other)
    response = client.post(
        "/settings/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert not is_logged_in(other)
    assert is_logged_in(client)  # the browser that changed it stays in, with the new token


def test_password_change_needs_the_current_password(admin_client, admin, engine):
    response = admin_client.post(
        "/settings/password",
        data={"current": "not-my-password-1", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert load_user(engine, admin.id).password_hash == admin.password_hash


def test_admin_reset_invalidates_the_users_remember_me_cookie(app, admin_client, rep):
    rep_browser = log_in(app.test_client(), rep.email, remember=True)
    other = app.test_client()
    copy_cookies(rep_browser, other, "remember_token")
    assert is_logged_in(other)
    response = admin_client.post(
        f"/settings/users/{rep.id}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not is_logged_in(other)
    assert not is_logged_in(rep_browser)
    assert attempt(app.test_client(), rep.email, NEW_PASSWORD).status_code == 302


def test_login_starts_a_new_session(client, admin):
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    log_in(client, admin.email)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id", "").startswith(f"{admin.id}:")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "http://evil.com",
        "https://evil.com/x",
        "/\\evil.com",
        "///evil.com",
        "/\t/evil.com",
    ],
)
def test_login_never_redirects_to_another_site(client, admin, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"email": admin.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_follows_a_local_next(client, admin):
    response = client.post(
        "/login",
        query_string={"next": "/settings/profile"},
        data={"email": admin.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/settings/profile"


def test_anonymous_visitor_is_sent_to_login_with_next(client, admin):
    response = client.get("/settings/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_session_restored_from_remember_me_must_log_in_again_to_change_settings(
    client, admin, engine
):
    log_in(client, admin.email, remember=True)
    client.delete_cookie("session")
    assert client.get("/settings/profile").status_code == 200
    response = client.post(
        "/settings/profile",
        data={"name": "Changed", "language": "en", "timezone": "America/Sao_Paulo"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert load_user(engine, admin.id).name == admin.name


def test_session_restored_from_remember_me_must_log_in_again_to_change_password(
    client, admin, engine
):
    log_in(client, admin.email, remember=True)
    client.delete_cookie("session")
    response = client.post(
        "/settings/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert load_user(engine, admin.id).password_hash == admin.password_hash


def test_htmx_request_of_an_anonymous_visitor_gets_hx_redirect_to_login(client, admin):
    response = client.get("/settings/profile", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_htmx_change_from_a_remembered_session_gets_hx_redirect_to_login(client, admin, engine):
    log_in(client, admin.email, remember=True)
    client.delete_cookie("session")
    response = client.post(
        "/settings/profile",
        data={"name": "Changed", "language": "en", "timezone": "UTC"},
        headers={"HX-Request": "true", "Referer": "http://localhost/settings/profile"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/settings/profile"
    assert load_user(engine, admin.id).name == admin.name


def test_fresh_login_allows_settings_changes(admin_client, admin, engine):
    response = admin_client.post(
        "/settings/profile",
        data={"name": "New Name", "language": "en", "timezone": "Europe/Lisbon"},
    )
    assert response.status_code == 200
    user = load_user(engine, admin.id)
    assert (user.name, user.language, user.timezone) == ("New Name", "en", "Europe/Lisbon")


def test_passwords_are_stored_hashed_with_scrypt(admin, engine):
    with read_session(engine) as session:
        hashes = list(session.exec(select(User.password_hash)))
    assert hashes
    for stored in hashes:
        assert stored.startswith("scrypt:")
        assert PASSWORD not in stored
