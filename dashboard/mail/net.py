"""What IMAP and SMTP share: where a server is (ServerSettings, password never in repr),
redacting the password from server answers, loopback checks, and naming a
connection-level failure (a refused address included: targets.py)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field

from dashboard.mail.targets import Reach, RefusedAddress

SECURITY_MODES = ("tls", "starttls", "none")
PASSWORD, XOAUTH2 = "password", "xoauth2"  # how a mailbox logs in (ServerSettings.auth)


# Most specific first: a certificate error is an SSLError, which is an OSError.
_FAILURES: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, "tls_certificate"),
    (ssl.SSLError, "tls_failed"),
    (ConnectionRefusedError, "connection_refused"),
    (socket.gaierror, "dns_failed"),
    (TimeoutError, "timeout"),
    (OSError, "network"),
)


REFUSED_KINDS = {Reach.LOCAL: "local_address", Reach.FORBIDDEN: "forbidden_address"}


def network_failure(exc: BaseException) -> str | None:
    """The kind of a connection-level failure ("tls_certificate", "timeout", ...; the values
    both ErrorCode and SendErrorCode use), or None when `exc` is not one."""
    if isinstance(exc, RefusedAddress):
        return REFUSED_KINDS.get(exc.reach, "forbidden_address")
    return next((kind for cls, kind in _FAILURES if isinstance(exc, cls)), None)


@dataclass(frozen=True)
class ServerSettings:
    """Where and how to reach one mailbox; the password never appears in repr()."""

    host: str
    port: int
    security: str  # "tls" | "starttls" | "none"
    username: str
    password: str = field(repr=False)
    ca_file: str | None = None
    timeout: float = 20.0
    # The company's "servers on the local network" setting (targets.py): loopback and
    # private addresses are refused unless it is on.
    allow_local: bool = False
    # XOAUTH2: `password` holds the OAuth access token, sent as a bearer (mail/oauth.py).
    auth: str = PASSWORD

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {self.security!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        if self.auth not in (PASSWORD, XOAUTH2):
            raise ValueError(f"auth must be {PASSWORD!r} or {XOAUTH2!r}, not {self.auth!r}")


def redact(text: str, secret: str | None) -> str:
    """Return text with every occurrence of secret (also escaped forms) removed."""
    if not secret:
        return text
    for form in (secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]):
        text = text.replace(form, "[redacted]")
    while secret in text:  # e.g. a secret that is part of "[redacted]" itself
        text = text.replace(secret, "")
    return text


def is_loopback_host(host: str) -> bool:
    """True for "localhost", 127.0.0.0/8 and ::1 (also bracketed or IPv4-mapped)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback
