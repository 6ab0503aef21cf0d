"""The apps the company registered with Google and Microsoft for OAuth mailboxes: the client
id, and the client secret encrypted exactly like the mailboxes' app passwords (never shown
again). Plain functions over a session."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from dashboard.accounts import audit
from dashboard.accounts.service import AccountError
from dashboard.db.secrets import SecretBox
from dashboard.mail.oauth import OAUTH_PROVIDERS
from dashboard.models import OAuthApp, User, utcnow

CALLBACK_PATH = "/settings/mailbox/oauth/callback"  # mailboxes/oauth_views.py serves it


def configured_providers(session: Session) -> set[str]:
    """The providers whose app is entered (client id and secret)."""
    return set(session.scalars(select(OAuthApp.provider)))


def save_app(
    session: Session,
    *,
    provider: str,
    client_id: str,
    client_secret: str,
    box: SecretBox,
    actor: User,
) -> OAuthApp:
    """Store a provider's app; an empty secret keeps the saved one (there must be one)."""
    if provider not in OAUTH_PROVIDERS:
        raise AccountError(_l("Unknown provider."))
    client_id = client_id.strip()
    if not client_id or any(c.isspace() for c in client_id):
        raise AccountError(_l("Enter the client ID exactly as the provider shows it."), "client_id")
    app = session.get(OAuthApp, provider)
    secret = client_secret.strip()
    if not secret and app is None:
        raise AccountError(_l("Enter the client secret."), "client_secret")
    app = app or OAuthApp(provider=provider, client_id=client_id, secret=b"")
    app.client_id, app.updated_at = client_id, utcnow()
    if secret:
        app.secret = box.encrypt(secret)
    session.add(app)
    audit.record(
        session, actor, "oauth_app.save",
        {"provider": provider, "client_id": client_id, "secret": "changed" if secret else "kept"},
    )  # fmt: skip
    return app


def redirect_uri(public_url: str | None, fallback_root: str) -> str:
    """The exact address the provider sends users back to: LEADSYNC_PUBLIC_URL (or, when it
    is not set, the address this request came to) and the callback's path."""
    root = (public_url or fallback_root).rstrip("/")
    return root + CALLBACK_PATH
