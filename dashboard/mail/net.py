"""What IMAP and SMTP share about the network: naming a connection-level failure."""

from __future__ import annotations

import socket
import ssl

# Most specific first: a certificate error is an SSLError, which is an OSError.
_FAILURES: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, "tls_certificate"),
    (ssl.SSLError, "tls_failed"),
    (ConnectionRefusedError, "connection_refused"),
    (socket.gaierror, "dns_failed"),
    (TimeoutError, "timeout"),
    (OSError, "network"),
)


def network_failure(exc: BaseException) -> str | None:
    """The kind of a connection-level failure ("tls_certificate", "timeout", ...; the values
    both ErrorCode and SendErrorCode use), or None when `exc` is not one."""
    return next((kind for cls, kind in _FAILURES if isinstance(exc, cls)), None)
