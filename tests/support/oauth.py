"""OAuth mailboxes in tests: LeadSync pointed at the test authorization server, Dovecot and an
XOAUTH2 SMTP server (all on loopback), and a user answering the consent page."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard.accounts.oauth_apps import CALLBACK_PATH
from dashboard.db.engine import write_session
from dashboard.models import OAuthApp
from tests.support.mailboxes import ca_bundle
from tests.support.servers.oauth import Client, OAuthMail, consent_by_http
from tests.support.servers.smtp import SmtpServer
from tests.support.sync import set_company

TEST_CLIENT_ROOT = "http://localhost"  # where Flask's test client says it is
FINISH_PATH = "/settings/mailbox/oauth/finish"


def oauth_config(
    directory: Path, oauth_mail: OAuthMail, smtp: SmtpServer, provider: str = "google"
) -> dict:
    """App configuration: the provider played by the test servers, their CAs trusted."""
    dovecot = oauth_mail.dovecot
    override = {
        **oauth_mail.oauth.endpoints(),
        "imap_host": dovecot.host, "imap_port": dovecot.port, "imap_security": "tls",
        "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": smtp.security,
    }  # fmt: skip
    cas = ca_bundle(directory / "oauth-cas.pem", dovecot.ca_file, smtp.ca_file)
    return {"IMAP_CA_FILE": cas, "OAUTH_OVERRIDES": {provider: override}}


def register_leadsync(
    app: Flask, oauth_mail: OAuthMail, provider: str = "google", root: str = TEST_CLIENT_ROOT
) -> Client:
    """What the admin does once: register LeadSync at the provider, store its app, and (the
    test servers being on this machine) allow local mail servers."""
    scopes = ("https://mail.google.com/",)
    client = oauth_mail.oauth.register_client(root.rstrip("/") + CALLBACK_PATH, scopes)
    engine: Engine = app.extensions["leadsync.engine"]
    with write_session(engine) as session:
        secret = app.extensions["leadsync.secrets"].encrypt(client.client_secret)
        session.add(OAuthApp(provider=provider, client_id=client.client_id, secret=secret))
    set_company(engine, allow_local_servers=True)
    return client


def come_back(client: FlaskClient, location: str, email: str, decision: str = "allow"):  # type: ignore[no-untyped-def]
    """Answer the consent page LeadSync sent the user to, follow the provider's redirect to
    LeadSync's callback page, and post its form on as the page does; return the answer."""
    back = consent_by_http(location, email, decision)
    parts = urlsplit(back)
    assert parts.path == CALLBACK_PATH, back
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    assert set(fields) >= {"state", "code", "error"}
    return client.post(FINISH_PATH, data={k: html.unescape(v) for k, v in fields.items()})


def consent_url(answer) -> str:  # type: ignore[no-untyped-def]
    """Where LeadSync sends the user to consent: the link of the page it answered with (a
    form may not redirect to another site), or the HX-Redirect of an htmx request."""
    if "HX-Redirect" in answer.headers:
        return answer.headers["HX-Redirect"]
    assert answer.status_code == 200, answer.text[:500]
    found = re.search(r'id="oauth-continue" href="([^"]+)"', answer.text)
    assert found, answer.text[:500]
    return html.unescape(found.group(1))


def connect_with_oauth(client: FlaskClient, address: str, url: str = "/settings/mailbox/") -> None:
    """Pick "Google (OAuth)", consent as `address` and come back connected."""
    answer = client.post(url, data={"provider": "google", "address": address})
    back = come_back(client, consent_url(answer), address)
    assert back.status_code == 302, back.text[:500]
