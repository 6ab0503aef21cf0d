"""Behind LEADSYNC_TRUSTED_PROXIES reverse proxies, the client's address and scheme are the
ones the proxies forwarded (dashboard/web/proxy.py); without the setting nothing a client
writes in X-Forwarded-* is believed."""

from __future__ import annotations

import pytest

from tests.support.factories import PASSWORD

PROXY = "127.0.0.1"  # what the WSGI server sees: the proxy's address


@pytest.fixture
def app_config() -> dict:
    """One proxy in front of LeadSync, English pages."""
    return {"TRUSTED_PROXIES": 1, "LANGUAGES": ("en", "pt_BR")}


def log_in_via_proxy(client, email: str, password: str, forwarded_for: str):  # type: ignore[no-untyped-def]
    """Post the login form as the proxy would pass it on."""
    return client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "http"},
        environ_base={"REMOTE_ADDR": PROXY},
    )


def test_the_forwarded_address_is_the_one_the_throttle_counts(app, admin):
    attacker = app.test_client()
    for _ in range(10):
        log_in_via_proxy(attacker, admin.email, "wrong-password-1", "203.0.113.5")
    assert log_in_via_proxy(attacker, admin.email, PASSWORD, "203.0.113.5").status_code == 429
    owner = app.test_client()
    assert log_in_via_proxy(owner, admin.email, PASSWORD, "203.0.113.6").status_code == 302


def test_a_client_cannot_dodge_the_throttle_by_writing_its_own_x_forwarded_for(app, admin):
    """The proxy appends the real address; only that last value is believed."""
    attacker = app.test_client()
    for n in range(10):
        forged = f"198.51.100.{n}, 203.0.113.5"
        log_in_via_proxy(attacker, admin.email, "wrong-password-1", forged)
    response = log_in_via_proxy(attacker, admin.email, PASSWORD, "9.9.9.9, 203.0.113.5")
    assert response.status_code == 429


def test_https_at_the_proxy_marks_cookies_secure(client, admin):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in cookie for cookie in cookies)


class TestWithoutTrustedProxies:
    """The default: X-Forwarded-* headers are the client's words, not the proxy's."""

    @pytest.fixture
    def app_config(self) -> dict:
        return {"LANGUAGES": ("en", "pt_BR")}

    def test_a_forwarded_address_is_ignored(self, app, admin):
        attacker = app.test_client()
        for n in range(10):
            log_in_via_proxy(attacker, admin.email, "wrong-password-1", f"203.0.113.{n}")
        response = log_in_via_proxy(app.test_client(), admin.email, PASSWORD, "203.0.113.99")
        assert response.status_code == 429  # all ten came from the one real address

    def test_a_forwarded_https_is_ignored(self, client, admin):
        response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        cookies = response.headers.getlist("Set-Cookie")
        assert cookies and not any("Secure" in cookie for cookie in cookies)
