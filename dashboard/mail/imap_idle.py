"""One IMAP IDLE on a mailbox's INBOX (RFC 2177), for a watcher that multiplexes many.

The watcher waits on `fileno()` with a selector; when the socket is readable, `read()`
drains what the server said and tells whether new mail arrived (EXISTS) or the connection
ended. No thread of its own, no Flask, no database; every failure leaves as an ImapError.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.mail.imap_client import (
    Connection,
    ErrorCode,
    ImapError,
    close_session,
    connection_error,
    open_session,
)
from dashboard.mail.net import ServerSettings

INBOX = "INBOX"
# A readable socket that yields no response several times in a row is at its end (EOF):
# imapclient's idle_check swallows the EOF and returns nothing.
EMPTY_READS_AT_EOF = 3
CLOSE_TIMEOUT = 1.0  # seconds DONE and LOGOUT may take at shutdown


@dataclass(frozen=True)
class IdleNews:
    """What a read of an idling connection found."""

    new_mail: bool = False
    closed: bool = False


def says_new_mail(responses: list[tuple]) -> bool:
    """True when the server announced messages (EXISTS) among untagged responses."""
    return any(len(r) > 1 and r[1] == b"EXISTS" for r in responses)


def says_bye(responses: list[tuple]) -> bool:
    """True when the server is ending the connection (untagged BYE)."""
    return any(r and r[0] == b"BYE" for r in responses)


class IdleLink:
    """A logged-in connection idling on INBOX."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.client: Connection | None = None
        self.empty_reads = 0
        self.idling = False  # DONE only makes sense after IDLE

    def open(self) -> None:
        """Connect, log in, EXAMINE INBOX and start IDLE; ImapError (code PROTOCOL, "no
        IDLE") when the server does not offer it."""
        self.client = open_session(self.settings)
        try:
            if not self.client.has_capability("IDLE"):
                raise ImapError(
                    ErrorCode.PROTOCOL, "the server does not offer IDLE",
                    host=self.settings.host, port=self.settings.port,
                )  # fmt: skip
            self.client.select_folder(INBOX, readonly=True)
            self.client.idle()
            self.idling = True
        except ImapError:
            self.close(graceful=True)
            raise
        except Exception as exc:  # any: the half-open connection is dropped, never leaked
            self.close(graceful=False)
            raise connection_error(exc, self.settings) from None

    def fileno(self) -> int:
        """The socket the watcher waits on."""
        assert self.client is not None
        return self.client.socket().fileno()

    def read(self) -> IdleNews:
        """Drain what the server sent (call when the socket is readable)."""
        assert self.client is not None
        try:
            responses = self.client.idle_check(timeout=0)
        except Exception:  # any: a broken connection is reported as closed
            return IdleNews(closed=True)
        self.empty_reads = 0 if responses else self.empty_reads + 1
        closed = says_bye(responses) or self.empty_reads >= EMPTY_READS_AT_EOF
        return IdleNews(new_mail=says_new_mail(responses), closed=closed)

    def renew(self) -> bool:
        """End the IDLE and start a new one (RFC 2177: before 29 minutes); True when new mail
        arrived meanwhile. ImapError when the connection broke."""
        assert self.client is not None
        try:
            self.client.socket().settimeout(self.settings.timeout)
            _text, responses = self.client.idle_done()
            self.client.idle()
        except Exception as exc:  # any: the caller reconnects
            raise connection_error(exc, self.settings) from None
        return says_new_mail(responses)

    def close(self, *, graceful: bool = True) -> None:
        """End the IDLE and LOG OUT within about a second; drop the connection when broken."""
        client, self.client, idling = self.client, None, self.idling
        self.idling = False
        if client is None:
            return
        if graceful and idling:
            try:
                client.socket().settimeout(CLOSE_TIMEOUT)
                client.idle_done()
            except Exception:  # any: not idling, or broken: drop it below
                graceful = False
        close_session(client, graceful=graceful)
