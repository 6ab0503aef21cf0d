"""A real OAuth2 authorization server for tests, built with Authlib's server side, on 127.0.0.1.

It plays Google / Microsoft's part: an authorization endpoint with a small consent form
(the "user" types the address they sign in as and allows or denies), a token endpoint
(authorization code with PKCE, refresh token), RFC 7662 introspection (what Dovecot's oauth2
passdb and the XOAUTH2 SMTP server ask) and RFC 7009 revocation. Tokens live in memory;
their lifetime is `token_lifetime` seconds, changeable while the server runs.
`revoke_grants(address)` is the user removing LeadSync's access in their account settings.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from typing import Any

import pytest
import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.servers.dovecot import DovecotServer, start_dovecot

RESOURCE_SERVER = "mail-servers"  # the client Dovecot and the SMTP server introspect as


@dataclass
class Client:
    """A registered app (LeadSync), or the mail servers' introspection client."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()
    scope: str = ""

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    """An authorization code waiting for the token call."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None


@dataclass
class Token:
    """An access token and its refresh token, for one user and client."""

    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id in (self.client_id, RESOURCE_SERVER)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Client:
        raise NotImplementedError


class Store:
    """Every client, code and token the server knows (in memory, thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: list[Token] = []

    def token(self, value: str, kind: str | None = None) -> Token | None:
        """The token whose access (or refresh) value this is."""
        with self.lock:
            for token in self.tokens:
                if kind != "refresh_token" and token.access_token == value:
                    return token
                if kind != "access_token" and token.refresh_token == value:
                    return token
        return None


def grant_classes(store: Store) -> tuple[type, type]:
    """The authorization-code and refresh-token grants over this store."""

    class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            with store.lock:
                store.codes[code] = Code(
                    code, req.client.client_id, req.payload.redirect_uri, req.scope,
                    req.user, req.payload.data.get("code_challenge"),
                    req.payload.data.get("code_challenge_method"),
                )  # fmt: skip

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = store.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            with store.lock:
                store.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.user

    class RefreshTokenGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotates, as Microsoft does

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            token = store.token(refresh_token, "refresh_token")
            return token if token and not token.revoked else None

        def authenticate_user(self, refresh_token: Token) -> str:
            return refresh_token.user

        def revoke_old_credential(self, refresh_token: Token) -> None:
            refresh_token.revoked = True

    return AuthorizationCodeGrant, RefreshTokenGrant


def endpoint_classes(store: Store) -> tuple[type, type]:
    """RFC 7662 introspection and RFC 7009 revocation over this store."""

    class Introspection(IntrospectionEndpoint):
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            return store.token(token_string, token_type_hint)

        def introspect_token(self, token: Token) -> dict[str, Any]:
            return {
                "active": True, "client_id": token.client_id, "username": token.user,
                "email": token.user, "scope": token.scope, "token_type": "Bearer",
                "exp": int(token.issued_at + token.expires_in), "iat": int(token.issued_at),
            }  # fmt: skip

        def check_permission(self, token: Token, client: Client, req: Any) -> bool:
            return True

    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            return store.token(token_string, token_type_hint)

        def revoke_token(self, token: Token, req: Any) -> None:
            token.revoked = True

    return Introspection, Revocation


CONSENT = """<!doctype html><title>Test sign-in</title>
<h1>{client} wants to read and send your mail</h1>
<form method="post"><label>Email <input name="email" value="{hint}"></label>
<button name="decision" value="allow">Allow</button>
<button name="decision" value="deny">Deny</button></form>"""


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args: Any) -> None:
        pass


class OAuthServer:
    """The authorization server on a free loopback port (start/stop, or a context manager)."""

    host = "127.0.0.1"

    def __init__(self, token_lifetime: int = 3600) -> None:
        self.token_lifetime = token_lifetime
        self.store = Store()
        self.resource_secret = secrets.token_urlsafe(16)
        self.store.clients[RESOURCE_SERVER] = Client(RESOURCE_SERVER, self.resource_secret)
        self.refreshes = 0  # refresh-token grants answered
        self.app = self._build_app()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        if self._server is None:
            raise RuntimeError("OAuthServer is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def introspection_url(self) -> str:
        """The introspection endpoint."""
        return f"{self.url}/introspect"

    def endpoints(self) -> dict[str, str]:
        """What LeadSync's OAUTH_OVERRIDES names for a provider played by this server."""
        return {
            "authorize_url": f"{self.url}/authorize",
            "token_url": f"{self.url}/token",
            "revoke_url": f"{self.url}/revoke",
        }

    def register_client(self, redirect_uri: str, scopes: tuple[str, ...]) -> Client:
        """Register LeadSync (as an admin does in Google Cloud / Entra) and return it."""
        client = Client(
            f"leadsync-{secrets.token_hex(4)}", secrets.token_urlsafe(24), (redirect_uri,),
            " ".join(scopes),
        )  # fmt: skip
        self.store.clients[client.client_id] = client
        return client

    def revoke_grants(self, address: str) -> None:
        """The user removed the app's access: every token of theirs stops working."""
        with self.store.lock:
            for token in self.store.tokens:
                if token.user == address:
                    token.revoked = True

    def active_user(self, bearer: str) -> str | None:
        """Who an access token belongs to, asked over HTTP as a mail server does."""
        answer = requests.post(
            self.introspection_url, data={"token": bearer, "token_type_hint": "access_token"},
            auth=(RESOURCE_SERVER, self.resource_secret), timeout=10,
        )  # fmt: skip
        info = answer.json() if answer.ok else {}
        return info.get("username") if info.get("active") else None

    def access_tokens(self, address: str) -> list[str]:
        """The access tokens issued to a user, oldest first."""
        with self.store.lock:
            return [t.access_token for t in self.store.tokens if t.user == address]

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        """Keep an issued token."""
        if req.payload.grant_type == "refresh_token":
            self.refreshes += 1
        with self.store.lock:
            self.store.tokens.append(
                Token(
                    req.client.client_id, req.user, token.get("scope", ""),
                    token["access_token"], token.get("refresh_token"), token["expires_in"],
                )
            )  # fmt: skip

    def _build_app(self) -> Flask:
        """The Flask app with the four endpoints."""
        app = Flask("oauth-test-server")
        server = AuthorizationServer(
            app, query_client=self.store.clients.get, save_token=self._save_token
        )
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda *a, **k: secrets.token_urlsafe(32),
                lambda *a, **k: secrets.token_urlsafe(32),
                lambda client, grant_type: self.token_lifetime,
            ),
        )
        code_grant, refresh_grant = grant_classes(self.store)
        server.register_grant(code_grant, [CodeChallenge(required=True)])
        server.register_grant(refresh_grant)
        introspection, revocation = endpoint_classes(self.store)
        server.register_endpoint(introspection)
        server.register_endpoint(revocation)

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            if request.method == "GET":
                grant = server.get_consent_grant(end_user=None)
                hint = escape(request.args.get("login_hint", ""))
                return CONSENT.format(client=escape(grant.client.client_id), hint=hint)
            allowed = request.form.get("decision") == "allow"
            user = (request.form.get("email", "").strip().lower() if allowed else "") or None
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.get("/favicon.ico")
        def favicon() -> Any:
            return "", 204  # a browser asks; a 404 would read as a console error

        @app.post("/token")
        def issue_token() -> Any:
            return server.create_token_response()

        @app.post("/introspect")
        def introspect() -> Any:
            return server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)

        @app.post("/revoke")
        def revoke() -> Any:
            return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

        return app

    def start(self) -> OAuthServer:
        """Serve on a free port in a daemon thread."""
        self._server = make_server(
            self.host, 0, self.app, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    """A fresh authorization server for one test."""
    with OAuthServer() as server:
        yield server


@pytest.fixture(scope="session")
def oauth_mail_servers() -> Iterator[OAuthMail]:
    """One authorization server and one Dovecot checking XOAUTH2 logins with it, shared by
    the session (the plain `dovecot_server` fixture stays password-only)."""
    with OAuthServer() as server:
        dovecot = start_dovecot(oauth_introspection_url=introspection_url_with_login(server))
        yield OAuthMail(server, dovecot)
        dovecot.stop()


@pytest.fixture
def oauth_mail(oauth_mail_servers: OAuthMail) -> Iterator[OAuthMail]:
    """The shared OAuth servers, with the token lifetime back to an hour after the test."""
    yield oauth_mail_servers
    oauth_mail_servers.oauth.token_lifetime = 3600


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll a condition until it holds or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@dataclass
class OAuthMail:
    """An authorization server, and a Dovecot whose oauth2 passdb asks it about tokens."""

    oauth: OAuthServer
    dovecot: DovecotServer


def introspection_url_with_login(server: OAuthServer) -> str:
    """The introspection URL with the mail servers' client login in it (Dovecot's form)."""
    return server.introspection_url.replace(
        "http://", f"http://{RESOURCE_SERVER}:{server.resource_secret}@"
    )


def consent_by_http(url: str, email: str, decision: str = "allow") -> str:
    """Answer the consent page as a user would, without a browser; return where the server
    sends them back (the redirect URI with code or error, and state)."""
    requests.get(url, timeout=10).raise_for_status()
    answer = requests.post(
        url, data={"email": email, "decision": decision}, allow_redirects=False, timeout=10
    )
    if answer.status_code != 302:
        raise AssertionError(f"consent answered {answer.status_code}: {answer.text[:200]}")
    return answer.headers["Location"]
