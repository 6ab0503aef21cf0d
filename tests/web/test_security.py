"""CSRF rejection, security headers, cookie flags, private instance files, no inline script."""

from __future__ import annotations

import os
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlmodel import func, select

from dashboard import create_app
from dashboard.db.engine import read_session
from dashboard.models import User
from tests.support.clients import log_in
from tests.support.factories import PASSWORD

SETUP_FORM = {
    "company": "Acme",
    "domains": "acme.test",
    "name": "Ana",
    "email": "ana@acme.test",
    "password": PASSWORD,
    "confirm": PASSWORD,
}


def csp_directives(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The Content-Security-Policy header as {directive: [sources]}."""
    policy = response.headers["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def set_cookie_header(response, name: str) -> str:  # type: ignore[no-untyped-def]
    """The Set-Cookie header that sets the named cookie."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def cookie_attributes(header: str) -> set[str]:
    """The lowercased attributes of a Set-Cookie header, e.g. {'httponly', 'samesite=lax'}."""
    return {part.strip().lower() for part in header.split(";")[1:]}


def user_count(engine) -> int:  # type: ignore[no-untyped-def]
    """How many users exist."""
    with read_session(engine) as session:
        return session.exec(select(func.count()).select_from(User)).one()


# CSRF ------------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused(client, admin):
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still anonymous


def test_login_with_a_forged_csrf_token_is_refused(client, admin):
    response = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": "forged"},
        headers={"X-CSRFToken": "forged"},
    )
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_setup_without_csrf_token_is_refused(client, engine):
    response = client.post("/setup", data=SETUP_FORM, csrf=False)
    assert response.status_code == 400
    assert user_count(engine) == 0


def test_profile_change_without_csrf_token_is_refused(admin_client, admin, engine):
    data = {"name": "Changed", "language": "en", "timezone": "UTC"}
    response = admin_client.post("/settings/profile", data=data, csrf=False)
    assert response.status_code == 400
    with read_session(engine) as session:
        assert session.get(User, admin.id).name == admin.name


def test_logout_without_csrf_token_is_refused(admin_client):
    assert admin_client.post("/logout", csrf=False).status_code == 400
    assert admin_client.get("/").status_code == 200


def test_csrf_token_in_the_form_field_is_accepted(client, admin):
    token = client.csrf_token()
    response = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
        csrf=False,
    )
    assert response.status_code == 302


# Headers ---------------------------------------------------------------------------------


@pytest.fixture
def pages(admin_client, admin, rep):  # type: ignore[no-untyped-def]
    """Responses of the pages an admin sees, plus a 404 and the login page."""
    urls = ["/", "/settings/profile", "/settings/company", "/settings/users/", "/nowhere"]
    urls.append(f"/settings/users/{rep.id}")
    responses = {url: admin_client.get(url) for url in urls}
    admin_client.post("/logout")
    responses["/login"] = admin_client.get("/login")
    return responses


def test_pages_send_a_strict_content_security_policy(pages):
    for url, response in pages.items():
        csp = csp_directives(response)
        assert csp["script-src"] == ["'self'"], url
        assert csp["frame-ancestors"] == ["'none'"], url
        assert "'unsafe-inline'" not in csp.get("default-src", []), url
        assert "'unsafe-eval'" not in " ".join(sum(csp.values(), [])), url
        assert csp.get("object-src") == ["'none'"], url


def test_pages_send_framing_referrer_and_sniffing_headers(pages):
    for url, response in pages.items():
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["Referrer-Policy"] in (
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
        ), url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url


def test_setup_page_sends_the_security_headers(client):
    response = client.get("/setup")
    assert csp_directives(response)["script-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_private_pages_are_not_cached(admin_client):
    assert "no-store" in admin_client.get("/settings/profile").headers["Cache-Control"]


class ScriptFinder(HTMLParser):
    """Collects inline scripts, inline event handlers and inline styles of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.problems.append("<script> without src")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style> block")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script body")


def inline_code(html: str) -> list[str]:
    """What in this page the CSP would block: inline scripts, handlers, styles."""
    finder = ScriptFinder()
    finder.feed(html)
    return finder.problems


def test_pages_have_no_inline_script_or_style(pages):
    for url, response in pages.items():
        html = response.data.decode()
        assert "<script" in html, url
        assert inline_code(html) == [], url


def test_setup_page_has_no_inline_script_or_style(client):
    assert inline_code(client.get("/setup").data.decode()) == []


def test_htmx_is_vendored_with_its_licence(client):
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200
    root = Path(__file__).resolve().parents[2]
    assert (root / "static/vendor/htmx/LICENSE").is_file()


# Cookies ---------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_by_default(client, admin):
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    attributes = cookie_attributes(set_cookie_header(response, "session"))
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes


def test_remember_cookie_is_httponly_and_samesite_lax(client, admin):
    response = client.post(
        "/login", data={"email": admin.email, "password": PASSWORD, "remember": "y"}
    )
    attributes = cookie_attributes(set_cookie_header(response, "remember_token"))
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes


@pytest.mark.parametrize(
    "app_config",
    [{"SECURE_COOKIES": True}, {"PUBLIC_URL": "https://leads.acme.test"}],
    ids=["SECURE_COOKIES", "https-PUBLIC_URL"],
)
def test_cookies_are_secure_when_configured(client, admin, app_config):
    response = client.post(
        "/login", data={"email": admin.email, "password": PASSWORD, "remember": "y"}
    )
    for name in ("session", "remember_token"):
        attributes = cookie_attributes(set_cookie_header(response, name))
        assert {"secure", "httponly", "samesite=lax"} <= attributes, name


def test_secure_cookies_follow_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADSYNC_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
    finally:
        app.extensions["leadsync.engine"].dispose()


def test_cookies_are_secure_when_served_over_https(client, admin):
    response = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # Flask-WTF's strict check over HTTPS
    )
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        assert "secure" in cookie_attributes(set_cookie_header(response, name)), name


# Instance files --------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask022", "umask000"])
def test_instance_files_are_private(tmp_path, umask):
    instance = tmp_path / "brand" / "new" / "instance"
    previous = os.umask(umask)
    try:
        app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
        setup_page_served = app.test_client().get("/setup").status_code == 200
        app.extensions["leadsync.engine"].dispose()
    finally:
        os.umask(previous)
    assert setup_page_served
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    for name in ("secret_key", "fernet.key", "leadsync.db"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    for extra in instance.glob("leadsync.db-*"):  # WAL and shared-memory files, if any
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra.name


def test_key_files_keep_their_value_across_starts(tmp_path):
    instance = tmp_path / "instance"
    first = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    first.extensions["leadsync.engine"].dispose()
    key = (instance / "fernet.key").read_bytes()
    second = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    second.extensions["leadsync.engine"].dispose()
    assert second.secret_key == first.secret_key
    assert (instance / "fernet.key").read_bytes() == key
    assert len(first.secret_key) >= 32


def test_secret_key_is_random_per_instance(tmp_path):
    apps = [create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / n)}) for n in "ab"]
    for app in apps:
        app.extensions["leadsync.engine"].dispose()
    assert apps[0].secret_key != apps[1].secret_key


def test_session_cookie_from_another_instance_is_not_accepted(tmp_path, app, admin):
    client = log_in(app.test_client(), admin.email)
    cookie = client.get_cookie("session")
    other = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "other")})
    try:
        with other.test_client() as stranger:
            stranger.set_cookie("session", cookie.value)
            with stranger.session_transaction() as session:
                assert "_user_id" not in session
    finally:
        other.extensions["leadsync.engine"].dispose()
