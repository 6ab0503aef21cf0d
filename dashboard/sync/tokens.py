"""OAuth access tokens of mailboxes that log in with XOAUTH2 (Google, Microsoft 365).

Invariants: an access token is used until two minutes before it expires, then refreshed
with the stored refresh token; the refreshed tokens are saved encrypted at once (a provider
may rotate the refresh token, and the old one then stops working); the token call is made
outside any database transaction. A revoked or expired grant ("invalid_grant") puts the
mailbox in "needs_reconnect": only the user consenting again can fix it. No Flask here.

Which endpoints are used: the provider's real ones (mail/oauth.py), unless the boot
configuration overrides them (OAUTH_OVERRIDES, for tests and staging); an override is
honoured only by a testing app or a company that allows mail servers on the local network,
so a stray setting cannot send users' grants elsewhere on a production install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from dashboard.db.engine import read_session, write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail.oauth import (
    OAUTH_PROVIDERS,
    ClientCredentials,
    OAuthFailure,
    OAuthProvider,
    TokenSet,
    refresh,
    with_override,
)
from dashboard.models import Company, Mailbox, MailboxEvent, OAuthApp
from dashboard.states import MailboxStatus

REFRESH_MARGIN = timedelta(minutes=2)  # a token this close to its expiry is renewed first


@dataclass(frozen=True)
class OAuthConfig:
    """The boot configuration's OAuth part: endpoint overrides, and whether this is a test."""

    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    testing: bool = False


class TokenUnavailable(Exception):
    """No access token: `code` is "oauth_revoked", "oauth_not_configured", "network" or
    "auth_failed" (the provider refused the app itself)."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def override_allowed(session: Session, config: OAuthConfig) -> bool:
    """Whether endpoint overrides may be honoured (see the module docstring)."""
    company = session.scalars(select(Company).order_by(Company.id)).first()
    return config.testing or bool(company and company.allow_local_servers)


def provider_for(session: Session, key: str, config: OAuthConfig) -> OAuthProvider:
    """The provider's endpoints, overridden when the configuration says so and may."""
    provider = OAUTH_PROVIDERS[key]
    override = config.overrides.get(key)
    if override and not override_allowed(session, config):
        raise TokenUnavailable(
            "oauth_not_configured",
            "OAUTH_OVERRIDES is refused: allow local mail servers or use a testing config",
        )
    return with_override(provider, override)


def credentials_for(session: Session, key: str, box: SecretBox) -> ClientCredentials:
    """The company's registered app for a provider, its secret decrypted for this use."""
    app = session.get(OAuthApp, key)
    if app is None or not app.client_id:
        raise TokenUnavailable("oauth_not_configured", f"no {key} app in Perfil da Empresa")
    try:
        return ClientCredentials(app.client_id, box.decrypt(app.secret))
    except ValueError:
        raise TokenUnavailable(
            "oauth_not_configured", "the client secret cannot be decrypted"
        ) from None


def store_tokens(mailbox: Mailbox, tokens: TokenSet, box: SecretBox) -> None:
    """Keep a token set on the mailbox, encrypted (the refresh token is its `secret`)."""
    if tokens.refresh_token:
        mailbox.secret = box.encrypt(tokens.refresh_token)
    mailbox.access_token = box.encrypt(tokens.access_token)
    mailbox.access_expires_at = tokens.expires_at.astimezone(UTC)


def still_fresh(mailbox: Mailbox, now: datetime) -> bool:
    """True when the stored access token outlives the refresh margin."""
    expires = mailbox.access_expires_at
    return bool(mailbox.access_token and expires and expires - REFRESH_MARGIN > now)


def failure_code(failure: OAuthFailure) -> str:
    """The TokenUnavailable code of a failed refresh."""
    if failure.grant_revoked:
        return "oauth_revoked"
    if failure.code in ("invalid_client", "unauthorized_client"):  # e.g. an expired secret
        return "oauth_not_configured"
    return "network" if failure.code == "network" else "auth_failed"


def mark_revoked(engine: Engine, mailbox_id: int, detail: str) -> None:
    """The grant is gone: the mailbox waits for its user to consent again."""
    with write_session(engine) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        mailbox.status, mailbox.next_sync_at = MailboxStatus.NEEDS_RECONNECT, None
        mailbox.last_error_code, mailbox.access_token = "oauth_revoked", None
        session.add(mailbox)
        session.add(
            MailboxEvent(
                user_id=mailbox.user_id, mailbox_id=mailbox_id, kind="oauth_revoked",
                code="oauth_revoked", detail=detail[:2000],
            )
        )  # fmt: skip


def access_token(
    engine: Engine, mailbox_id: int, box: SecretBox, config: OAuthConfig, *, force: bool = False
) -> str:
    """A usable access token of an OAuth mailbox: the stored one while fresh, else a new one
    (saved before it is returned). `force`: the server refused the stored one."""
    now = datetime.now(UTC)
    with read_session(engine) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        if mailbox is None or mailbox.secret is None:
            raise TokenUnavailable("oauth_revoked", "the mailbox is disconnected")
        if not force and still_fresh(mailbox, now):
            return box.decrypt(mailbox.access_token or b"")
        provider = provider_for(session, mailbox.provider, config)
        credentials = credentials_for(session, mailbox.provider, box)
        refresh_token = box.decrypt(mailbox.secret)
    try:
        tokens = refresh(provider, credentials, refresh_token)  # no transaction held meanwhile
    except OAuthFailure as failure:
        if failure.grant_revoked:
            mark_revoked(engine, mailbox_id, str(failure))
        raise TokenUnavailable(failure_code(failure), str(failure)) from None
    with write_session(engine) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        store_tokens(mailbox, tokens, box)
        session.add(mailbox)
    return tokens.access_token
