"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, verified TLS, AUTH.

`SmtpServer` speaks implicit TLS (like smtp.gmail.com:465), STARTTLS (like port 587, with
STARTTLS required before anything else) or, for loopback-only tests, plain SMTP. It accepts
one login (AUTH LOGIN/PLAIN), can refuse chosen recipients with 550 and limit the message
size, and keeps every accepted message (envelope and the exact bytes received).
Certificates come from `tests.support.servers.tls`, so clients verify them against `ca_file`.
Nothing is registered globally: use the fixtures below via `pytest_plugins`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import string
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.servers.dovecot import free_port
from tests.support.servers.tls import write_certificates

SECURITY = ("tls", "starttls", "none")


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope sender, envelope recipients, bytes as received."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


@dataclass
class RecordingHandler:
    """aiosmtpd handler: refuses chosen recipients with 550, keeps what it accepts."""

    refuse: frozenset[str] = frozenset()
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        """Accept a recipient unless it is on the refuse list."""
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Keep the message."""
        content = envelope.original_content or b""
        received = Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), content)
        with self.lock:
            self.messages.append(received)
        return "250 2.0.0 Ok: queued"


@dataclass
class BearerHandler(RecordingHandler):
    """A RecordingHandler that also accepts AUTH XOAUTH2, asking `bearer_user` (the
    authorization server's introspection) whose token it is."""

    bearer_user: Callable[[str], str | None] = lambda token: None

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        """Check "user=...^Aauth=Bearer ...^A^A" as Gmail does; a refusal is a 334 challenge
        with the error, then 535 (RFC 7628)."""
        if len(args) > 1:
            raw: Any = base64.b64decode(args[1])
        else:
            raw = await server.challenge_auth("")
        fields = dict(
            part.split("=", 1) for part in bytes(raw).decode().split("\x01") if "=" in part
        )
        user, bearer = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        owner = await asyncio.get_running_loop().run_in_executor(None, self.bearer_user, bearer)
        if owner and owner == user.lower():
            return AuthResult(success=True, auth_data=user, handled=False)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "Bearer"}))
        return AuthResult(success=False, handled=False)


@dataclass(frozen=True)
class Authenticator:
    """Accepts exactly one username/password pair."""

    username: str
    password: str = field(repr=False)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator callback."""
        ok = isinstance(data, LoginPassword) and (
            data.login.decode("utf-8", "replace") == self.username
            and secrets.compare_digest(data.password, self.password.encode())
        )
        return AuthResult(success=ok, handled=False)


class ImplicitTlsSMTP(SMTP):
    """aiosmtpd's SMTP that counts an implicit-TLS connection as encrypted.

    aiosmtpd only knows TLS started by STARTTLS (aio-libs/aiosmtpd#281): over implicit TLS
    it would neither advertise nor accept AUTH. Marking the TLS transport fixes both.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Mark the connection as TLS when the socket is TLS from the first byte."""
        super().connection_made(transport)
        if self._tls_protocol is None and transport.get_extra_info("ssl_object") is not None:
            self._tls_protocol = transport  # type: ignore[assignment]


class SmtpController(Controller):
    """A Controller whose implicit-TLS servers accept AUTH."""

    def factory(self) -> SMTP:
        """Build the protocol object for one connection."""
        cls = ImplicitTlsSMTP if self.ssl_context else SMTP
        return cls(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """One aiosmtpd Controller on 127.0.0.1 (start/stop, or use as a context manager)."""

    host = "127.0.0.1"

    def __init__(
        self, certificates: Path, *, security: str = "tls", data_size_limit: int | None = None,
        refuse: tuple[str, ...] = (), username: str | None = None, password: str | None = None,
        bearer_user: Callable[[str], str | None] | None = None,
    ) -> None:  # fmt: skip
        if security not in SECURITY:
            raise ValueError(f"security must be one of {SECURITY}")
        self.security = security
        self.certificates = certificates
        self.data_size_limit = data_size_limit
        self.username = username or f"rep{secrets.randbelow(10**6)}@acme.test"
        self.password = password or "".join(
            secrets.choice(string.ascii_lowercase) for _ in range(16)
        )
        refused = frozenset(a.lower() for a in refuse)
        # bearer_user: XOAUTH2 logins too, checked by an authorization server's introspection
        self.handler = (
            BearerHandler(refused, bearer_user=bearer_user)
            if bearer_user
            else RecordingHandler(refused)
        )
        self.port = 0
        self._controller: Controller | None = None

    @property
    def ca_file(self) -> str:
        """Path of the PEM CA certificate that signed the server certificate."""
        return str(self.certificates / "ca.pem")

    @property
    def messages(self) -> list[Received]:
        """Every accepted message, oldest first."""
        with self.handler.lock:
            return list(self.handler.messages)

    def _server_context(self) -> ssl.SSLContext:
        """The server side TLS context with the generated certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificates / "server.pem", self.certificates / "server.key")
        return context

    def _controller_kwargs(self) -> dict[str, Any]:
        """Controller and SMTP options for the security mode."""
        options: dict[str, Any] = {
            "authenticator": Authenticator(self.username, self.password),
            "auth_required": True,
            "data_size_limit": self.data_size_limit,
            "server_hostname": "localhost",
        }
        if self.security == "tls":
            options.update(ssl_context=self._server_context())
        elif self.security == "starttls":
            options.update(tls_context=self._server_context(), require_starttls=True)
        else:  # plain SMTP on loopback: AUTH in the clear (aiosmtpd warns about it)
            options.update(auth_require_tls=False)
        return options

    def start(self) -> SmtpServer:
        """Listen on a free port (retrying a port race) and wait until it answers."""
        for attempt in range(3):
            self.port = free_port()
            controller = SmtpController(
                self.handler, hostname=self.host, port=self.port, **self._controller_kwargs()
            )
            try:
                controller.start()
            except OSError:
                if attempt == 2:
                    raise
                continue
            self._controller = controller
            return self
        raise RuntimeError("unreachable")

    def stop(self) -> None:
        """Stop the server thread."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def smtp_certificates() -> Iterator[Path]:
    """A CA and a server certificate for 127.0.0.1/localhost, shared by the session."""
    with tempfile.TemporaryDirectory(prefix="leadsync-smtp-") as directory:
        write_certificates(Path(directory))
        yield Path(directory)


@pytest.fixture
def make_smtp_server(smtp_certificates: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Factory for servers with other options (STARTTLS, size limit, refused recipients)."""
    started: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        started.append(SmtpServer(smtp_certificates, **options).start())
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SmtpServer]) -> SmtpServer:
    """An implicit-TLS server (like smtp.gmail.com:465) with one login, for one test."""
    return make_smtp_server()
