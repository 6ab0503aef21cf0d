"""The content fingerprint: with Message-ID and sender, what makes two copies one email.

Pure: standard library only. Two different messages can share a Message-ID and sender
(broken mailers, test tools, some list software); the fingerprint tells them apart, while
every copy of one message keeps the same one, whichever folder or mailbox it is read from.

It is taken from the Date header and the subject only, because those are the bytes every
copy shares: Gmail's INBOX, "All Mail" and Sent show one stored message, Dovecot copies it
byte for byte, and a teammate's copy carries the headers the sender's client wrote. The
body is NOT used, nor its size or hash: the size reported by IMAP includes the Received and
other trace headers each server adds, relays re-encode bodies (8bit to quoted-printable),
gateways append disclaimers, and the copy in Sent is the client's own rendering, so the
same message has a different body size and hash on every server that holds it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime


def normalized_subject(subject: str) -> str:
    """The subject without whitespace, NULs or case: servers re-fold and decoders differ in
    the spaces they keep between encoded words, never in the words themselves."""
    return "".join(subject.replace("\x00", "").split()).casefold()


def header_instant(date: datetime | None) -> str:
    """The Date header as a UTC instant to the second ("" when the message has none)."""
    if date is None:
        return ""
    aware = date.astimezone(UTC) if date.tzinfo else date.replace(tzinfo=UTC)
    return aware.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_fingerprint(date: datetime | None, subject: str) -> str:
    """16 hex digits from the Date header (None when absent or unparseable) and the subject."""
    key = f"{header_instant(date)}\x1f{normalized_subject(subject)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
