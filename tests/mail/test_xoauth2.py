"""IMAP and SMTP XOAUTH2 logins against Dovecot's oauth2 passdb and an aiosmtpd server, both
asking the test authorization server whose token it is (no mock on either side)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.mail.imap_client import ErrorCode, ImapError, verify
from dashboard.mail.net import XOAUTH2, ServerSettings
from dashboard.mail.oauth import (
    OAUTH_PROVIDERS,
    ClientCredentials,
    TokenSet,
    authorization,
    exchange_code,
    with_override,
)
from dashboard.mail.smtp_client import SendError, SendErrorCode, SmtpSettings, verify_login
from tests.support.servers.dovecot import new_user
from tests.support.servers.oauth import OAuthServer, consent_by_http

REDIRECT = "http://127.0.0.1:5000/oauth/callback"


def granted(server: OAuthServer, address: str) -> TokenSet:
    """Tokens for `address`, through the real consent and code exchange."""
    google = with_override(OAUTH_PROVIDERS["google"], server.endpoints())
    client = server.register_client(REDIRECT, google.scopes)
    credentials = ClientCredentials(client.client_id, client.client_secret)
    pending = authorization(google, credentials, REDIRECT, address)
    code = parse_qs(urlsplit(consent_by_http(pending.url, address)).query)["code"][0]
    return exchange_code(
        google, credentials, redirect_uri=REDIRECT, code=code, code_verifier=pending.code_verifier
    )


def imap_settings(oauth_mail, address: str, token: str) -> ServerSettings:  # type: ignore[no-untyped-def]
    dovecot = oauth_mail.dovecot
    return ServerSettings(
        dovecot.host, dovecot.port, "tls", address, token, dovecot.ca_file, 10, True, XOAUTH2
    )


def test_imap_logs_in_with_the_access_token(oauth_mail):
    user = new_user(oauth_mail.dovecot)
    tokens = granted(oauth_mail.oauth, user.address)
    result = verify(imap_settings(oauth_mail, user.address, tokens.access_token))
    assert "INBOX" in [f.name for f in result.folders]


@pytest.mark.parametrize("whose", ["revoked", "another user's"])
def test_imap_refuses_a_token_that_is_not_good_for_this_mailbox(oauth_mail, whose):
    user, other = new_user(oauth_mail.dovecot), new_user(oauth_mail.dovecot)
    tokens = granted(oauth_mail.oauth, user.address if whose == "revoked" else other.address)
    if whose == "revoked":
        oauth_mail.oauth.revoke_grants(user.address)
    with pytest.raises(ImapError) as caught:
        verify(imap_settings(oauth_mail, user.address, tokens.access_token))
    assert caught.value.code == ErrorCode.AUTH_FAILED
    assert tokens.access_token not in str(caught.value)


def test_smtp_logs_in_with_xoauth2_and_refuses_a_revoked_token(oauth_mail, make_smtp_server):
    server = make_smtp_server(bearer_user=oauth_mail.oauth.active_user)
    address = "seller@acme.test"
    tokens = granted(oauth_mail.oauth, address)
    settings = SmtpSettings(
        server.host, server.port, "tls", address, tokens.access_token, server.ca_file,
        allow_local=True, auth=XOAUTH2,
    )  # fmt: skip
    verify_login(settings)
    oauth_mail.oauth.revoke_grants(address)
    with pytest.raises(SendError) as caught:
        verify_login(settings)
    assert caught.value.code == SendErrorCode.AUTH_FAILED
    assert tokens.access_token not in str(caught.value)
    with pytest.raises(SendError):
        verify_login(replace(settings, password="not-a-token"))
