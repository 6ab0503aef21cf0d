"""OAuth2 for mailboxes that accept no passwords (Google, Microsoft 365): the providers'
endpoints and scopes, and the three token calls (authorize URL, code exchange, refresh),
all made by Authlib's client with PKCE (S256) and state. No Flask, no database.

An override (boot configuration, for tests and staging) may point a provider at other
endpoints and mail servers; whether to accept it is the caller's decision (see
`sync/tokens.py`), because this layer does not know the company's settings.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError as AuthlibError
from requests import RequestException

REQUEST_TIMEOUT = 20.0
# Fields of a provider an override may replace (the key and name stay ours).
OVERRIDABLE = (
    "authorize_url", "token_url", "revoke_url", "imap_host", "imap_port", "imap_security",
    "smtp_host", "smtp_port", "smtp_security",
)  # fmt: skip


@dataclass(frozen=True)
class OAuthProvider:
    """Where a provider signs users in and where its mail servers are."""

    key: str
    name: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    scopes: tuple[str, ...]
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    console_url: str  # where the admin registers LeadSync
    # Asked on the authorize URL so a refresh token comes back (Google gives one only then).
    authorize_params: tuple[tuple[str, str], ...] = ()


OAUTH_PROVIDERS: dict[str, OAuthProvider] = {
    p.key: p
    for p in (
        OAuthProvider(
            "google", "Google", "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/revoke",
            ("https://mail.google.com/",), "imap.gmail.com", 993, "tls", "smtp.gmail.com", 465,
            "tls", "https://console.cloud.google.com/apis/credentials",
            (("access_type", "offline"), ("prompt", "consent")),
        ),
        OAuthProvider(
            "microsoft", "Microsoft 365",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token", None,
            ("https://outlook.office.com/IMAP.AccessAsUser.All",
             "https://outlook.office.com/SMTP.Send", "offline_access"),
            "outlook.office365.com", 993, "tls", "smtp.office365.com", 587, "starttls",
            "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
            (("prompt", "select_account"),),
        ),
    )
}  # fmt: skip


def with_override(provider: OAuthProvider, override: dict[str, Any] | None) -> OAuthProvider:
    """The provider with the overridable fields an override names replaced."""
    if not override:
        return provider
    unknown = set(override) - set(OVERRIDABLE)
    if unknown:
        raise ValueError(f"unknown OAuth override fields: {sorted(unknown)}")
    return replace(provider, **override)


@dataclass(frozen=True)
class ClientCredentials:
    """The app the company registered with the provider; the secret never in repr()."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class TokenSet:
    """What a token call returned; the tokens never in repr()."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class PendingAuthorization:
    """The authorize URL to send the user to, and what the callback must check it against."""

    url: str
    state: str
    code_verifier: str = field(repr=False)


class OAuthFailure(Exception):
    """A token call failed: `code` is the OAuth error ("invalid_grant" when the grant was
    revoked or expired) or "network"; the text carries no token or secret."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def grant_revoked(self) -> bool:
        """True when only the user consenting again can help."""
        return self.code == "invalid_grant"


def session_for(provider: OAuthProvider, credentials: ClientCredentials, **kwargs: Any) -> Any:
    """An Authlib client for this provider and app (PKCE S256)."""
    return OAuth2Session(
        credentials.client_id,
        credentials.client_secret,
        scope=" ".join(provider.scopes),
        code_challenge_method="S256",
        default_timeout=REQUEST_TIMEOUT,
        **kwargs,
    )


def authorization(
    provider: OAuthProvider, credentials: ClientCredentials, redirect_uri: str, login_hint: str
) -> PendingAuthorization:
    """The consent URL with a fresh state and PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    client = session_for(provider, credentials, redirect_uri=redirect_uri)
    url, state = client.create_authorization_url(
        provider.authorize_url,
        code_verifier=verifier,
        login_hint=login_hint,
        **dict(provider.authorize_params),
    )
    return PendingAuthorization(url, state, verifier)


def token_set(token: dict[str, Any], now: datetime, previous_refresh: str | None) -> TokenSet:
    """A token response as a TokenSet (a refresh answer may omit the refresh token)."""
    if not token.get("access_token"):
        raise OAuthFailure("invalid_response", "no access_token in the answer")
    lifetime = int(token.get("expires_in") or 3600)
    refresh = token.get("refresh_token") or previous_refresh
    return TokenSet(token["access_token"], refresh, now + timedelta(seconds=lifetime))


def token_call(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run an Authlib token call; failures become OAuthFailure without secrets."""
    try:
        return dict(call(*args, **kwargs))
    except AuthlibError as exc:
        raise OAuthFailure(str(exc.error or "oauth_error"), str(exc.description or "")) from None
    except RequestException as exc:
        raise OAuthFailure("network", type(exc).__name__) from None


def exchange_code(
    provider: OAuthProvider,
    credentials: ClientCredentials,
    *,
    redirect_uri: str,
    code: str,
    code_verifier: str,
) -> TokenSet:
    """Trade the authorization code (and the PKCE verifier) for tokens."""
    client = session_for(provider, credentials, redirect_uri=redirect_uri)
    token = token_call(
        client.fetch_token, provider.token_url, code=code, code_verifier=code_verifier
    )
    if not token.get("refresh_token"):
        raise OAuthFailure("no_refresh_token", "the provider gave no refresh token")
    return token_set(token, datetime.now(UTC), None)


def refresh(
    provider: OAuthProvider, credentials: ClientCredentials, refresh_token: str
) -> TokenSet:
    """A new access token from the refresh token (some providers rotate the refresh token)."""
    client = session_for(provider, credentials)
    token = token_call(client.refresh_token, provider.token_url, refresh_token=refresh_token)
    return token_set(token, datetime.now(UTC), refresh_token)


def revoke(provider: OAuthProvider, credentials: ClientCredentials, refresh_token: str) -> None:
    """Tell the provider the grant is no longer wanted (when it has a revocation endpoint)."""
    if provider.revoke_url:
        client = session_for(provider, credentials)
        try:
            client.revoke_token(provider.revoke_url, refresh_token, "refresh_token")
        except RequestException as exc:
            raise OAuthFailure("network", type(exc).__name__) from None


def xoauth2_string(username: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft define it."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01"
