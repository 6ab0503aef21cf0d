"""The OAuth token calls (mail/oauth.py) against a real Authlib authorization server."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dashboard.mail.oauth import (
    OAUTH_PROVIDERS,
    ClientCredentials,
    OAuthFailure,
    OAuthProvider,
    authorization,
    exchange_code,
    refresh,
    with_override,
)
from tests.support.servers.oauth import OAuthServer

REDIRECT = "http://127.0.0.1:5000/oauth/callback"


def consent(url: str, email: str, decision: str = "allow") -> dict[str, list[str]]:
    """Answer the consent form as the user would; return the callback's query."""
    assert requests.get(url, timeout=10).status_code == 200
    answer = requests.post(
        url, data={"email": email, "decision": decision}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def provider_at(server: OAuthServer) -> tuple[OAuthProvider, ClientCredentials]:
    """Google, played by the test server, with LeadSync registered there."""
    google = with_override(OAUTH_PROVIDERS["google"], server.endpoints())
    client = server.register_client(REDIRECT, google.scopes)
    return google, ClientCredentials(client.client_id, client.client_secret)


def test_code_with_pkce_gives_tokens_and_the_refresh_token_renews_them(oauth_server):
    google, credentials = provider_at(oauth_server)
    pending = authorization(google, credentials, REDIRECT, "rep@acme.test")
    query = parse_qs(urlsplit(pending.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [pending.state]
    assert query["login_hint"] == ["rep@acme.test"]
    assert query["access_type"] == ["offline"]
    answer = consent(pending.url, "rep@acme.test")
    assert answer["state"] == [pending.state]
    tokens = exchange_code(
        google, credentials, redirect_uri=REDIRECT, code=answer["code"][0],
        code_verifier=pending.code_verifier,
    )  # fmt: skip
    assert oauth_server.active_user(tokens.access_token) == "rep@acme.test"
    renewed = refresh(google, credentials, tokens.refresh_token or "")
    assert renewed.access_token != tokens.access_token
    assert oauth_server.active_user(renewed.access_token) == "rep@acme.test"
    assert oauth_server.refreshes == 1


def test_a_code_without_its_verifier_is_refused(oauth_server):
    google, credentials = provider_at(oauth_server)
    pending = authorization(google, credentials, REDIRECT, "rep@acme.test")
    code = consent(pending.url, "rep@acme.test")["code"][0]
    with pytest.raises(OAuthFailure) as caught:
        exchange_code(google, credentials, redirect_uri=REDIRECT, code=code, code_verifier="x" * 50)
    assert caught.value.code == "invalid_grant"


def test_a_revoked_grant_says_invalid_grant_and_holds_no_secret(oauth_server):
    google, credentials = provider_at(oauth_server)
    pending = authorization(google, credentials, REDIRECT, "rep@acme.test")
    code = consent(pending.url, "rep@acme.test")["code"][0]
    tokens = exchange_code(
        google, credentials, redirect_uri=REDIRECT, code=code, code_verifier=pending.code_verifier
    )
    oauth_server.revoke_grants("rep@acme.test")
    with pytest.raises(OAuthFailure) as caught:
        refresh(google, credentials, tokens.refresh_token or "")
    assert caught.value.grant_revoked
    assert tokens.refresh_token not in str(caught.value)
    assert credentials.client_secret not in str(caught.value)
    assert oauth_server.active_user(tokens.access_token) is None


def test_denied_consent_comes_back_without_a_code(oauth_server):
    google, credentials = provider_at(oauth_server)
    pending = authorization(google, credentials, REDIRECT, "rep@acme.test")
    answer = consent(pending.url, "rep@acme.test", decision="deny")
    assert answer["error"] == ["access_denied"]
    assert "code" not in answer


def test_a_wrong_client_secret_is_refused(oauth_server):
    google, credentials = provider_at(oauth_server)
    pending = authorization(google, credentials, REDIRECT, "rep@acme.test")
    code = consent(pending.url, "rep@acme.test")["code"][0]
    with pytest.raises(OAuthFailure) as caught:
        exchange_code(
            google, replace(credentials, client_secret="wrong"), redirect_uri=REDIRECT,
            code=code, code_verifier=pending.code_verifier,
        )  # fmt: skip
    assert caught.value.code == "invalid_client"


def test_an_override_may_only_name_endpoints_and_servers():
    with pytest.raises(ValueError, match="scopes"):
        with_override(OAUTH_PROVIDERS["google"], {"scopes": ("x",)})


def test_the_providers_ask_for_the_mail_scopes():
    assert OAUTH_PROVIDERS["google"].scopes == ("https://mail.google.com/",)
    assert set(OAUTH_PROVIDERS["microsoft"].scopes) == {
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
    }
