"""Test clients that behave like a browser: a CSRF header on every unsafe request, and a
login through the real form."""

from __future__ import annotations

from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from tests.support import factories


class CSRFClient(FlaskClient):
    """A test client that sends a valid CSRF header with every unsafe request, like htmx."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        method = (kwargs.get("method") or "GET").upper()
        if method not in ("GET", "HEAD", "OPTIONS") and kwargs.pop("csrf", True):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """Seed the session with a raw token and return its signed form."""
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", "test-csrf-raw-token-0123456789abcdef")
        signer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return signer.dumps(raw)


def log_in(
    client: FlaskClient, email: str, password: str = factories.PASSWORD, remember: bool = False
) -> FlaskClient:
    """Log a client in through the real login form."""
    response = client.post(
        "/login", data={"email": email, "password": password, "remember": "y" if remember else ""}
    )
    assert response.status_code == 302, response.data.decode()[:2000]
    return client
