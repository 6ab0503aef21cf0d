"""IMAP protocol wrapper: the only module that imports imapclient.

Invariants: everything returned is a plain dataclass (or, inside `connect`, the
logged-in client); every failure leaves this module as an `ImapError` with a stable
`code`; no error text, repr or chained exception carries the mailbox password; plain
IMAP is refused for anything but a loopback host; the server's name is resolved once and
only an address `targets.py` accepts is connected to; nothing a server said before it
greeted as IMAP (the banner of whatever listens on that port) is kept. No Flask here.
"""

from __future__ import annotations

import ast
import functools
import imaplib
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

import imapclient
from imapclient import imap4, tls
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from dashboard.mail.folders import FolderInfo, find_sent_folder
from dashboard.mail.net import (
    XOAUTH2,
    ServerSettings,
    is_loopback_host,
    network_failure,
    redact,
)
from dashboard.mail.targets import open_socket, resolve

# What `connect` yields. Callers use its IMAP methods; only this layer imports imapclient.
Connection: TypeAlias = imapclient.IMAPClient


class ErrorCode(StrEnum):
    """Why talking to a mail server failed; stable strings stored and shown to admins."""

    AUTH_FAILED = "auth_failed"
    APP_PASSWORD_REQUIRED = "app_password_required"  # noqa: S105 (a code, not a password)
    IMAP_DISABLED = "imap_disabled"
    UNAVAILABLE = "unavailable"
    OVERQUOTA = "overquota"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TLS_CERTIFICATE = "tls_certificate"
    TLS_FAILED = "tls_failed"
    CONNECTION_REFUSED = "connection_refused"
    DNS_FAILED = "dns_failed"
    TIMEOUT = "timeout"
    NETWORK = "network"
    PROTOCOL = "protocol"  # an unexpected NO/BAD after login
    NOT_MAIL_SERVER = "not_mail_server"  # something answered, but not as an IMAP server
    LOCAL_ADDRESS = "local_address"  # this machine or the LAN, and the company does not allow it
    FORBIDDEN_ADDRESS = "forbidden_address"  # link-local, metadata...: never connected to
    # OAuth mailboxes: the grant was revoked or expired (the user must consent again), or the
    # company's app for the provider is missing (an admin must enter it again).
    OAUTH_REVOKED = "oauth_revoked"
    OAUTH_NOT_CONFIGURED = "oauth_not_configured"


# Worth retrying later without anyone changing settings. A refused connection or a
# failed lookup of a host that verified before is usually an outage, not a typo.
TRANSIENT_CODES = frozenset({
    ErrorCode.UNAVAILABLE, ErrorCode.OVERQUOTA, ErrorCode.TOO_MANY_CONNECTIONS,
    ErrorCode.CONNECTION_REFUSED, ErrorCode.DNS_FAILED, ErrorCode.TIMEOUT, ErrorCode.NETWORK,
})  # fmt: skip

# First match wins; the most specific wordings come first. Anything else is auth_failed.
_ANSWER_RULES: tuple[tuple[re.Pattern[str], ErrorCode], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"application-specific password", ErrorCode.APP_PASSWORD_REQUIRED),
        (
            r"not enabled for imap|\bimap\b( access)?( is)? (disabled|not enabled)"
            r"|\benable (imap|your account for imap)\b",
            ErrorCode.IMAP_DISABLED,
        ),
        (
            r"\[LIMIT\]|too many (simultaneous )?connections|maximum number of connections",
            ErrorCode.TOO_MANY_CONNECTIONS,
        ),
        (r"\[OVERQUOTA\]|exceeded command or bandwidth limits", ErrorCode.OVERQUOTA),
        (r"\[(UNAVAILABLE|SERVERBUG)\]", ErrorCode.UNAVAILABLE),
    )
)


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` learned about a mailbox."""

    folders: tuple[FolderInfo, ...]
    sent_folder: str | None
    sent_found_by: str | None  # "flag" | "name" | None
    capabilities: tuple[str, ...]


class ImapError(Exception):
    """A failure talking to a mail server, with a stable code and a password-free `raw`."""

    def __init__(
        self, code: str, raw: str, *, host: str, port: int, secret: str | None = None
    ) -> None:
        self.code = ErrorCode(code)
        self.host = host
        self.port = port
        self.raw = redact(raw, secret)
        super().__init__(f"{self.code} ({host}:{port}): {self.raw}")

    @property
    def transient(self) -> bool:
        """True when retrying later may work without changing settings."""
        return self.code in TRANSIENT_CODES


def _error(settings: ServerSettings, code: ErrorCode, raw: str) -> ImapError:
    """Build an ImapError for this server, with the password redacted from raw."""
    return ImapError(code, raw, host=settings.host, port=settings.port, secret=settings.password)


def answer_text(failure: BaseException | str | bytes) -> str:
    """Return the server's answer (or the exception text) as plain text."""
    if isinstance(failure, IMAPClientError):
        failure = failure.args[0] if failure.args else ""
    elif isinstance(failure, BaseException):
        failure = str(failure)
    if isinstance(failure, str) and re.fullmatch(r"b(['\"]).*\1", failure, re.DOTALL):
        # imapclient wraps imaplib's bytes answer with str(), giving "b'...'".
        with suppress(ValueError, SyntaxError):
            failure = ast.literal_eval(failure)
    if isinstance(failure, bytes):
        failure = failure.decode("utf-8", "replace")
    return str(failure).strip()


def _match_answer(text: str) -> ErrorCode | None:
    """Return the code of the first rule matching a server answer, if any."""
    return next((code for pattern, code in _ANSWER_RULES if pattern.search(text)), None)


def classify_server_answer(raw: str) -> ErrorCode:
    """Map a LOGIN failure answer from a server to an ErrorCode."""
    return _match_answer(raw) or ErrorCode.AUTH_FAILED


def login_error(failure: BaseException | str | bytes, settings: ServerSettings) -> ImapError:
    """Turn a failed LOGIN (exception or raw answer) into an ImapError."""
    text = answer_text(failure)
    # imaplib reports a dropped connection mid-LOGIN as "socket error: ..."
    code = ErrorCode.NETWORK if "socket error" in text else classify_server_answer(text)
    return _error(settings, code, text)


def exception_code(exc: BaseException, default: ErrorCode = ErrorCode.PROTOCOL) -> ErrorCode:
    """Map a connection-level exception (or an unexpected IMAP answer) to an ErrorCode."""
    kind = network_failure(exc)
    if kind is not None:
        return ErrorCode(kind)
    # A BYE can say why (Gmail: "Account exceeded command or bandwidth limits").
    matched = _match_answer(answer_text(exc))
    if matched:
        return matched
    return ErrorCode.NETWORK if isinstance(exc, IMAPClientAbortError) else default


def connection_error(
    exc: BaseException, settings: ServerSettings, default: ErrorCode = ErrorCode.PROTOCOL
) -> ImapError:
    """Turn a connection-level exception into an ImapError."""
    return _error(settings, exception_code(exc, default), answer_text(exc) or type(exc).__name__)


def _cause(exc: BaseException, settings: ServerSettings) -> BaseException | None:
    """Return exc to chain, or None if its text would leak the password."""
    return None if settings.password and settings.password in str(exc) else exc


def _seconds_left(settings: ServerSettings, deadline: float | None) -> float:
    """Return the socket timeout for the next step: min(settings.timeout, budget left)."""
    if deadline is None:
        return settings.timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _error(settings, ErrorCode.TIMEOUT, "time budget exhausted")
    return min(settings.timeout, left)


_CONTEXT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=16)
def _shared_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying context per CA file (loading the system CAs costs ~30 ms)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _tls_context(settings: ServerSettings) -> ssl.SSLContext:
    """Return a verifying context: the system CAs plus settings.ca_file when given."""
    try:
        with _CONTEXT_LOCK:  # two lanes connecting at once would each load the CA store
            return _shared_context(settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise _error(settings, ErrorCode.TLS_FAILED, f"cannot load CA file: {exc}") from exc


class PinnedIMAPClient(imapclient.IMAPClient):
    """An IMAPClient whose socket goes to addresses checked beforehand, never re-resolving
    the name; the name still serves TLS (SNI and the certificate check).

    imapclient opens its connection in `_create_IMAP4` (imapclient 3 and 4), the one place
    to hand it an already checked address.
    """

    def __init__(self, addresses: list[str], *args: object, **kwargs: object) -> None:
        self.addresses = addresses
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 (imapclient's name)
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return PinnedTLS(self.addresses, self.host, self.port, self.ssl_context, timeout)
        return PinnedPlain(self.addresses, self.host, self.port, timeout)


class PinnedTLS(tls.IMAP4_TLS):
    """imapclient's TLS connection, opened to a checked address."""

    def __init__(self, addresses: list[str], *args: object) -> None:
        self.addresses = addresses
        super().__init__(*args)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = open_socket(self.addresses, self.port, timeout or self._timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)


class PinnedPlain(imap4.IMAP4WithTimeout):
    """imapclient's plain connection (STARTTLS or loopback), opened to a checked address."""

    def __init__(self, addresses: list[str], *args: object) -> None:
        self.addresses = addresses
        super().__init__(*args)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return open_socket(self.addresses, self.port, timeout or self._timeout)


def greeting_error(exc: BaseException, settings: ServerSettings) -> ImapError:
    """The error of a connection that failed before the server greeted as IMAP.

    Whatever answered may not be a mail server at all (SSH, a database, a web server on
    the LAN): its words are never kept, only the kind of failure. A connection-level failure
    keeps our own library's text (certificate errors say what is wrong with the certificate).
    """
    kind = network_failure(exc)
    if kind is not None:
        return _error(settings, ErrorCode(kind), str(exc) or type(exc).__name__)
    if isinstance(exc, IMAPClientAbortError):
        if "unexpected response" in answer_text(exc):  # imaplib: "unexpected response: <banner>"
            return _error(settings, ErrorCode.NOT_MAIL_SERVER, "the greeting was not IMAP")
        return _error(settings, ErrorCode.NETWORK, "the connection closed before the greeting")
    # An IMAP greeting other than OK (BYE, NO) is the server turning us away, usually for a
    # while; the rules may still read why ([LIMIT], [UNAVAILABLE]...).
    code = exception_code(exc, ErrorCode.UNAVAILABLE)
    return _error(settings, code, f"the server refused the connection ({code})")


def _open(settings: ServerSettings, deadline: float | None) -> imapclient.IMAPClient:
    """Connect (and upgrade with STARTTLS when asked); return the client before LOGIN."""
    if settings.security == "none" and not is_loopback_host(settings.host):
        raise ValueError(f"refusing plain IMAP to non-loopback host {settings.host!r}")
    context = None if settings.security == "none" else _tls_context(settings)
    use_tls = settings.security == "tls"
    timeout = _seconds_left(settings, deadline)
    try:
        addresses = resolve(settings.host, settings.port, allow_local=settings.allow_local)
        client = PinnedIMAPClient(
            addresses,
            settings.host,
            settings.port,
            ssl=use_tls,
            ssl_context=context,
            timeout=timeout,
        )
    except (OSError, IMAPClientError) as exc:
        raise greeting_error(exc, settings) from None  # the chained text may hold a banner
    if settings.security == "starttls":
        _starttls(client, context, settings)
    return client


def _starttls(
    client: imapclient.IMAPClient, context: ssl.SSLContext | None, settings: ServerSettings
) -> None:
    """Upgrade a plain connection to verified TLS, or close it and raise ImapError."""
    try:
        client.starttls(context)
    except CapabilityError as exc:
        _close(client, graceful=True)
        raise _error(settings, ErrorCode.TLS_FAILED, "server does not offer STARTTLS") from exc
    except (OSError, IMAPClientError) as exc:
        _close(client, graceful=False)
        raise connection_error(exc, settings, ErrorCode.TLS_FAILED) from _cause(exc, settings)


def set_deadline(
    client: imapclient.IMAPClient, settings: ServerSettings, deadline: float | None
) -> None:
    """Set the socket timeout of the next command to what the budget still allows."""
    client.socket().settimeout(_seconds_left(settings, deadline))


def _close(client: imapclient.IMAPClient, *, graceful: bool) -> None:
    """LOGOUT when the connection is healthy, else just drop it; never raise."""
    with suppress(Exception):
        if graceful:
            client.logout()
            return
    with suppress(Exception):
        client.shutdown()


def _login(client: imapclient.IMAPClient, settings: ServerSettings) -> None:
    """LOGIN, or AUTHENTICATE PLAIN (UTF-8) when the credentials are not ASCII; AUTHENTICATE
    XOAUTH2 with the access token for an OAuth mailbox."""
    if settings.auth == XOAUTH2:
        client.oauth2_login(settings.username, settings.password)
        return
    credentials = settings.username + settings.password
    if credentials.isascii():
        client.login(settings.username, settings.password)
    elif client.has_capability("AUTH=PLAIN"):
        client.plain_login(settings.username, settings.password)
    else:  # LOGIN is ASCII-only; imaplib would raise UnicodeEncodeError holding the password
        raise _error(settings, ErrorCode.AUTH_FAILED, "non-ASCII credentials need AUTH=PLAIN")


@contextmanager
def connect(settings: ServerSettings, *, deadline: float | None = None) -> Iterator[Connection]:
    """Yield a logged-in client; failures inside become ImapError; always log out."""
    client = _open(settings, deadline)
    healthy = False
    try:
        set_deadline(client, settings, deadline)  # also covers the socket STARTTLS swapped in
        _login(client, settings)
        healthy = True
        yield client
    except IMAPClientAbortError as exc:  # the connection dropped: no LOGOUT possible
        healthy = False
        raise connection_error(exc, settings) from _cause(exc, settings)
    except LoginError as exc:
        raise login_error(exc, settings) from _cause(exc, settings)
    except (OSError, IMAPClientError) as exc:
        healthy = healthy and not isinstance(exc, OSError)
        raise connection_error(exc, settings) from _cause(exc, settings)
    finally:
        _close(client, graceful=healthy)


def open_session(settings: ServerSettings, *, deadline: float | None = None) -> Connection:
    """A logged-in client the caller keeps open (an IDLE); end it with `close_session`.

    Failures become ImapError exactly as in `connect`.
    """
    client = _open(settings, deadline)
    try:
        set_deadline(client, settings, deadline)
        _login(client, settings)
    except LoginError as exc:
        _close(client, graceful=False)
        raise login_error(exc, settings) from _cause(exc, settings)
    except (OSError, IMAPClientError) as exc:
        _close(client, graceful=False)
        raise connection_error(exc, settings) from _cause(exc, settings)
    except BaseException:
        _close(client, graceful=False)
        raise
    return client


def close_session(client: Connection, *, graceful: bool) -> None:
    """LOGOUT a client from `open_session` (or just drop it when it is broken); never raise."""
    _close(client, graceful=graceful)


def _text(value: bytes | str | int | None) -> str:
    """Return an imapclient atom as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _folder_info(flags: tuple[bytes, ...], delimiter: bytes | None, name: str) -> FolderInfo:
    """Convert one imapclient LIST tuple to a FolderInfo."""
    return FolderInfo(_text(name), tuple(_text(f) for f in flags), _text(delimiter))


def list_folders(client: imapclient.IMAPClient) -> tuple[FolderInfo, ...]:
    """LIST every folder; Gmail and Dovecot include special-use flags in plain LIST."""
    return tuple(_folder_info(*entry) for entry in client.list_folders())


def verify(settings: ServerSettings, budget: float = 20.0) -> VerifyResult:
    """Connect, log in, LIST and find the Sent folder, all within budget seconds."""
    deadline = time.monotonic() + budget
    with connect(settings, deadline=deadline) as client:
        set_deadline(client, settings, deadline)
        capabilities = tuple(_text(c) for c in client.capabilities())
        set_deadline(client, settings, deadline)
        folders = list_folders(client)
    sent, found_by = find_sent_folder(folders)
    return VerifyResult(folders, sent, found_by, capabilities)
