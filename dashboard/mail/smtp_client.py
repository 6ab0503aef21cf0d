"""SMTP protocol wrapper: the only module that imports smtplib.

Invariants: every failure leaves this module as a `SendError` with a stable `code`; no
error text, repr or chained exception carries the password; TLS is verified (system CAs
plus an optional CA file) and plain SMTP is refused for anything but a loopback host; the
server's name is resolved once and only an address `targets.py` accepts is connected to; what
a server says before it greets as SMTP (the banner of whatever listens there) is never kept.
No Flask, no database.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from contextlib import suppress
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum

from dashboard.mail.net import XOAUTH2, ServerSettings, is_loopback_host, network_failure, redact
from dashboard.mail.oauth import xoauth2_string
from dashboard.mail.targets import open_socket, resolve


class SendErrorCode(StrEnum):
    """Why a send failed; stable strings stored on the outgoing email and translated in views."""

    AUTH_FAILED = "auth_failed"
    RELAY_REFUSED = "relay_refused"
    TOO_LARGE = "too_large"
    SENDER_REFUSED = "sender_refused"
    TLS_FAILED = "tls_failed"
    TLS_CERTIFICATE = "tls_certificate"
    CONNECTION_REFUSED = "connection_refused"
    DNS_FAILED = "dns_failed"
    TIMEOUT = "timeout"
    NETWORK = "network"
    NOT_MAIL_SERVER = "not_mail_server"  # something answered, but not as an SMTP server
    LOCAL_ADDRESS = "local_address"  # this machine or the LAN, and the company does not allow it
    FORBIDDEN_ADDRESS = "forbidden_address"  # link-local, metadata...: never connected to
    UNKNOWN = "unknown"


# Reply codes that mean "these credentials will not do" (RFC 4954 and common practice).
AUTH_REPLY_CODES = frozenset({530, 534, 535, 538})
REFUSED_REPLY_CODES = frozenset({550, 551, 553, 554})
SIZE_WORDS = ("size", "too large", "too big", "5.3.4")


@dataclass(frozen=True)
class SmtpSettings(ServerSettings):
    """Where and how to reach the rep's SMTP server (same checks as IMAP, longer timeout)."""

    timeout: float = 30.0


class SendError(Exception):
    """A failed send with a stable code and a password-free detail."""

    def __init__(self, code: str, detail: str, *, secret: str | None = None) -> None:
        self.code = SendErrorCode(code)
        self.detail = redact(detail, secret)
        super().__init__(f"{self.code}: {self.detail}")


def reply_text(code: int, message: bytes | str) -> str:
    """Return a server reply as "550 5.1.1 text"."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def code_of_reply(code: int, text: str) -> SendErrorCode:
    """Map an SMTP reply (code and text) to a SendErrorCode."""
    if code in AUTH_REPLY_CODES:
        return SendErrorCode.AUTH_FAILED
    if code == 552 or (code >= 500 and any(w in text.lower() for w in SIZE_WORDS)):
        return SendErrorCode.TOO_LARGE
    if code in REFUSED_REPLY_CODES:
        return SendErrorCode.RELAY_REFUSED
    if code == 421:
        return SendErrorCode.NETWORK  # the server is closing the channel, usually for a while
    return SendErrorCode.UNKNOWN


def refused_detail(recipients: dict[str, tuple[int, bytes]]) -> str:
    """Describe refused recipients: "a@x (550 ...); b@y (553 ...)"."""
    return "; ".join(f"{addr} ({reply_text(*answer)})" for addr, answer in recipients.items())


def _smtp_code(exc: smtplib.SMTPException) -> tuple[SendErrorCode, str]:
    """Code and detail of an smtplib exception."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return SendErrorCode.RELAY_REFUSED, refused_detail(exc.recipients)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        text = reply_text(exc.smtp_code, exc.smtp_error)
        code = code_of_reply(exc.smtp_code, text)
        refused = code == SendErrorCode.RELAY_REFUSED or code == SendErrorCode.UNKNOWN
        return (SendErrorCode.SENDER_REFUSED if refused else code), text
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendErrorCode.AUTH_FAILED, reply_text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPConnectError):  # a greeting other than 220
        # Maybe no mail server at all (SSH, a database...): its words are never kept.
        if 400 <= exc.smtp_code < 600:  # an SMTP server turning us away (421 busy...)
            return SendErrorCode.NETWORK, f"the server refused the connection ({exc.smtp_code})"
        return SendErrorCode.NOT_MAIL_SERVER, "the greeting was not SMTP"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = reply_text(exc.smtp_code, exc.smtp_error)
        return code_of_reply(exc.smtp_code, text), text
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendErrorCode.NETWORK, str(exc) or "server disconnected"
    return SendErrorCode.UNKNOWN, str(exc) or type(exc).__name__


def _os_code(exc: OSError) -> SendErrorCode:
    """Map a connection-level exception to a SendErrorCode."""
    return SendErrorCode(network_failure(exc) or SendErrorCode.NETWORK)


def classify(exc: BaseException) -> tuple[SendErrorCode, str]:
    """Code and detail of any exception raised while sending."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # starttls() or login() against a server that lacks the extension, or SMTPUTF8.
        text = str(exc)
        if "STARTTLS" in text:
            return SendErrorCode.TLS_FAILED, "server does not offer STARTTLS"
        if "AUTH" in text:
            return SendErrorCode.AUTH_FAILED, "server does not offer AUTH"
        return SendErrorCode.UNKNOWN, text
    if isinstance(exc, smtplib.SMTPException):  # before OSError: SMTPException is one
        return _smtp_code(exc)
    if isinstance(exc, OSError):
        return _os_code(exc), str(exc) or type(exc).__name__
    return SendErrorCode.UNKNOWN, f"{type(exc).__name__}: {exc}"


def _error(settings: SmtpSettings, exc: BaseException) -> SendError:
    """Build the SendError of an exception, naming the server, without the password."""
    code, detail = classify(exc)
    return SendError(code, f"{settings.host}:{settings.port} {detail}", secret=settings.password)


def _cause(exc: BaseException, settings: SmtpSettings) -> BaseException | None:
    """Return exc to chain, or None if its text would leak the password."""
    leaks = settings.password and settings.password in f"{exc} {exc.args!r}"
    return None if leaks else exc


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Return a verifying context: the system CAs plus settings.ca_file when given."""
    context = ssl.create_default_context()
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise SendError(SendErrorCode.TLS_FAILED, f"cannot load CA file: {exc}") from exc
    return context


def check_settings(settings: SmtpSettings) -> None:
    """Refuse what must never be attempted: plain SMTP off loopback, non-ASCII credentials."""
    if settings.security == "none" and not is_loopback_host(settings.host):
        detail = f"refusing plain SMTP to non-loopback host {settings.host}"
        raise SendError(SendErrorCode.TLS_FAILED, detail)
    if not (settings.username + settings.password).isascii():
        # smtplib encodes AUTH as ASCII and would raise an error holding the password.
        raise SendError(SendErrorCode.AUTH_FAILED, "non-ASCII credentials are not supported")


class PinnedSMTP(smtplib.SMTP):
    """smtplib's client, whose socket goes to addresses checked beforehand (the name still
    serves STARTTLS's certificate check)."""

    def __init__(self, addresses: list[str], host: str, port: int, *, timeout: float) -> None:
        self.addresses = addresses
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return open_socket(self.addresses, port, timeout)


class PinnedSMTPSSL(smtplib.SMTP_SSL):
    """smtplib's implicit-TLS client, opened to a checked address, verified for the name."""

    def __init__(
        self,
        addresses: list[str],
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        self.addresses, self.server_name = addresses, host
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = open_socket(self.addresses, port, timeout)
        return self.context.wrap_socket(sock, server_hostname=self.server_name)


def open_connection(settings: SmtpSettings) -> smtplib.SMTP:
    """Connect, with implicit TLS or STARTTLS as configured; return the client before AUTH."""
    addresses = resolve(settings.host, settings.port, allow_local=settings.allow_local)
    if settings.security == "tls":
        return PinnedSMTPSSL(
            addresses,
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=tls_context(settings),
        )
    client = PinnedSMTP(addresses, settings.host, settings.port, timeout=settings.timeout)
    if settings.security == "starttls":
        try:
            client.starttls(context=tls_context(settings))
        except BaseException:
            client.close()
            raise
    return client


def authenticate(client: smtplib.SMTP, settings: SmtpSettings) -> None:
    """AUTH with the app password, or AUTH XOAUTH2 with the access token of an OAuth mailbox."""
    if settings.auth != XOAUTH2:
        client.login(settings.username, settings.password)
        return
    client.ehlo_or_helo_if_needed()
    initial = xoauth2_string(settings.username, settings.password)
    # A refusal comes as a 334 challenge holding the error; the answer to it is empty, and
    # the server then says 535 (RFC 7628 and Google's XOAUTH2 description).
    client.auth("XOAUTH2", lambda challenge=None: "" if challenge else initial)


def quit_quietly(client: smtplib.SMTP) -> None:
    """QUIT and close; never raise: once DATA is accepted, the message has left."""
    with suppress(smtplib.SMTPException, OSError):
        client.quit()
    client.close()


def send(
    settings: SmtpSettings, message: EmailMessage, *, from_addr: str, recipients: list[str]
) -> dict[str, str]:
    """Send one message; return the recipients the server refused while accepting others.

    Raises SendError when nothing was sent (every recipient refused included).
    """
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    check_settings(settings)
    try:
        client = open_connection(settings)
        try:
            if settings.username:
                authenticate(client, settings)
            refused = client.send_message(message, from_addr=from_addr, to_addrs=recipients)
        finally:
            quit_quietly(client)
    except SendError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise _error(settings, exc) from _cause(exc, settings)
    return {addr: reply_text(*answer) for addr, answer in refused.items()}


def verify_login(settings: SmtpSettings) -> None:
    """Connect and log in as the mailbox will send, then QUIT; SendError when it fails.

    What connecting a mailbox checks, so a wrong SMTP server or login shows up on save and
    not at the first smart email. Nothing is sent.
    """
    check_settings(settings)
    try:
        client = open_connection(settings)
        try:
            authenticate(client, settings)
        finally:
            quit_quietly(client)
    except SendError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise _error(settings, exc) from _cause(exc, settings)
