"""State-changing requests are refused when their Origin (or, without it, their Referer)
names another site; requests naming neither still need the CSRF token
(dashboard/web/origin.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.db.engine import read_session
from dashboard.models import Lead
from dashboard.web.origin import is_own_origin
from tests.support.leads import ENGLISH, text_of

REFUSED = "This request came from another site, so it was refused."
NEW_LEAD = {"name": "Ana", "addresses": "ana@client.test", "company": "", "phone": "",
            "owner": "0"}  # fmt: skip


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


def lead_count(engine) -> int:  # type: ignore[no-untyped-def]
    """How many leads are stored."""
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


def create_lead(client, **headers: str):  # type: ignore[no-untyped-def]
    """Post the new-lead form (with a valid CSRF token) and these headers."""
    return client.post("/leads/new", data=NEW_LEAD, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.test"},
        {"Origin": "http://localhost.evil.test"},
        {"Origin": "http://localhost:8000"},  # another port is another site
        {"Origin": "null"},  # sandboxed frames, privacy-stripped origins
        {"Referer": "https://evil.test/forged.html"},
        {"Referer": "not a url"},
        {"Origin": "https://evil.test", "Referer": "http://localhost/leads/new"},  # Origin wins
    ],
)
def test_a_request_from_another_site_is_refused(engine, rep_client, headers):
    response = create_lead(rep_client, **headers)
    assert response.status_code == 403
    assert REFUSED in text_of(response.data.decode())
    assert lead_count(engine) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost"},
        {"Origin": "HTTP://LOCALHOST:80"},
        {"Referer": "http://localhost/leads/new"},  # no Origin: the Referer decides
        {},  # neither: a non-browser client (the CSRF token still applies)
    ],
)
def test_a_request_from_this_site_or_naming_none_is_accepted(engine, rep_client, headers):
    assert create_lead(rep_client, **headers).status_code == 302
    assert lead_count(engine) == 1


def test_without_origin_the_csrf_token_is_still_needed(engine, rep_client):
    response = rep_client.post("/leads/new", data=NEW_LEAD, csrf=False)
    assert response.status_code == 400
    assert lead_count(engine) == 0


def test_a_forged_origin_is_refused_even_at_login(client, admin):
    response = client.post(
        "/login",
        data={"email": admin.email, "password": "correct-horse-42"},
        headers={"Origin": "https://evil.test"},
    )
    assert response.status_code == 403
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_reading_pages_is_not_checked(rep_client):
    assert rep_client.get("/leads/", headers={"Origin": "https://evil.test"}).status_code == 200


def test_the_refusal_keeps_the_security_headers(rep_client):
    response = create_lead(rep_client, Origin="https://evil.test")
    assert "Content-Security-Policy" in response.headers


class TestPublicURL:
    """Behind a proxy that rewrites Host, the configured public address is this site."""

    @pytest.fixture
    def app_config(self) -> dict:
        return {**ENGLISH, "PUBLIC_URL": "https://crm.example.com/"}

    def test_the_public_origin_is_accepted(self, engine, rep_client):
        assert create_lead(rep_client, Origin="https://crm.example.com").status_code == 302
        assert lead_count(engine) == 1

    def test_the_public_host_over_plain_http_is_refused(self, engine, rep_client):
        assert create_lead(rep_client, Origin="http://crm.example.com").status_code == 403


def test_https_at_a_tls_proxy_keeping_the_host_is_accepted(engine, rep_client):
    """The proxy ends TLS and forwards Host: the browser says https, the app sees http."""
    token = rep_client.csrf_token()
    session = rep_client.get_cookie("session")
    assert session is not None
    rep_client.set_cookie("session", session.value, domain="crm.example.com")
    response = rep_client.post(
        "/leads/new",
        data=NEW_LEAD,
        headers={"Origin": "https://crm.example.com", "X-CSRFToken": token},
        base_url="http://crm.example.com",
    )
    assert response.status_code == 302, response.data.decode()[-1500:]
    assert lead_count(engine) == 1


@pytest.mark.parametrize(
    ("source", "scheme", "host", "public", "expected"),
    [
        ("http://localhost:5000", "http", "localhost:5000", None, True),
        ("http://localhost:5001", "http", "localhost:5000", None, False),
        ("https://crm.acme.test", "http", "crm.acme.test", None, True),  # TLS ended at a proxy
        ("https://crm.acme.test:8443", "http", "crm.acme.test", None, False),
        ("https://crm.acme.test", "http", "crm.acme.test:5000", None, False),
        ("http://crm.acme.test", "https", "crm.acme.test", None, False),  # no downgrade
        ("https://crm.acme.test", "http", "127.0.0.1:5000", "https://crm.acme.test/x", True),
        ("https://crm.acme.test:443", "http", "127.0.0.1:5000", "https://crm.acme.test", True),
        ("https://evil.test", "http", "127.0.0.1:5000", "https://crm.acme.test", False),
        ("http://[::1]:5000", "http", "[::1]:5000", None, True),
        ("http://localhost:99999", "http", "localhost", None, False),
        ("ftp://localhost", "http", "localhost", None, False),
        ("", "http", "localhost", None, False),
    ],
)
def test_which_origins_are_this_site(source, scheme, host, public, expected):
    assert is_own_origin(source, scheme=scheme, host=host, public_url=public) is expected
