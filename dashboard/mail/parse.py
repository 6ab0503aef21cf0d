"""Lean-fetch parsing: plain Raw* inputs from the IMAP layer -> MessageMeta for rules and storage.

Pure: standard library only (no imapclient, no Flask), so it is tested with plain values.
Invariants: meta_from_fetch never raises on bad data (it notes a problem and does its best);
only a message with nothing to read raises ParseError: no ENVELOPE and no header fields, or
an empty or header-less message (every ENVELOPE field NIL). A message without a Message-ID
gets a synthetic one that is the same on every run. No text it returns holds a NUL. Header
fields the envelope lacks are read by a small targeted parser: the email package costs
~1.7 ms per message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from dashboard.mail.body_text import html_to_text
from dashboard.mail.fingerprint import content_fingerprint
from dashboard.mail.mime import (
    Part,
    decode_bytes,
    decode_part,
    decode_words,
    walk_bodystructure,
    walk_with_problems,
    without_nul,
)

__all__ = [
    "Address", "MessageMeta", "ParseError", "Part", "RawAddress", "RawEnvelope", "RawFetch",
    "decode_part", "html_to_text", "meta_from_fetch", "normalize_message_id",
    "synthetic_message_id", "walk_bodystructure",
]  # fmt: skip

HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.MULTILINE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
BRACKETED = re.compile(r"<[^<>]*>")
EMAIL = re.compile(r"[^\s@<>,;]+@[^\s@<>,;]+")
MISSING_HOSTS = frozenset(("missing_domain", ".missing-host-name.", "missing-host-name"))
EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
BULK_PRECEDENCE = frozenset(("bulk", "list", "junk"))
SUPPRESS_TOKENS = frozenset(("all", "oof"))


class ParseError(ValueError):
    """The fetch held nothing to build a message from (no envelope and no headers)."""


@dataclass(frozen=True, slots=True)
class RawAddress:
    """One ENVELOPE address, bytes as the server sent them (host None marks group syntax)."""

    name: bytes | None
    mailbox: bytes | None
    host: bytes | None


@dataclass(frozen=True, slots=True)
class RawEnvelope:
    """The ENVELOPE of one message, fields as the server sent them."""

    date: bytes | None
    subject: bytes | None
    from_: tuple[RawAddress, ...]
    sender: tuple[RawAddress, ...]
    reply_to: tuple[RawAddress, ...]
    to: tuple[RawAddress, ...]
    cc: tuple[RawAddress, ...]
    bcc: tuple[RawAddress, ...]
    in_reply_to: bytes | None
    message_id: bytes | None


@dataclass(frozen=True, slots=True)
class RawFetch:
    """One message's lean FETCH; internaldate should be aware (naive is read as UTC)."""

    uid: int
    envelope: RawEnvelope | None
    bodystructure: tuple | list | None
    header_fields: bytes
    size: int
    internaldate: datetime | None
    flags: tuple[bytes, ...] = ()
    gm_msgid: int | None = None
    gm_thrid: int | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A decoded address; email is lowercased and "" when the server gave nothing usable."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Everything the rules and the store need about one message, without its body."""

    uid: int
    message_id: str
    synthetic_id: bool
    fingerprint: str  # with message_id and sender, the email's identity (mail/fingerprint.py)
    subject: str
    date: datetime
    from_: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    in_reply_to: str | None
    references: tuple[str, ...]
    size: int
    flags: tuple[str, ...]
    text_parts: tuple[Part, ...]  # the text/plain body, in order
    html_parts: tuple[Part, ...]  # what is shown as HTML, in order; empty without HTML
    attachments: tuple[Part, ...]
    automated: bool
    gm_msgid: int | None
    gm_thrid: int | None
    problems: tuple[str, ...]

    @property
    def sender(self) -> Address | None:
        """The first From address that has an email."""
        return next((address for address in self.from_ if address.email), None)

    def participants(self) -> set[str]:
        """Every email address in From, To, Cc and Bcc."""
        groups = (self.from_, self.to, self.cc, self.bcc)
        return {address.email for group in groups for address in group if address.email}


def parse_header_fields(block: bytes) -> dict[str, str]:
    """Return {lowercased name: unfolded value} for a raw header block; the first one wins."""
    fields: dict[str, str] = {}
    for name, value in HEADER_LINE.findall(block):
        key = name.decode("ascii").lower()
        if key not in fields:
            raw = value.replace(b"\r", b"").replace(b"\n", b"")
            text = without_nul(raw.decode("ascii")) if raw.isascii() else decode_bytes(raw)[0]
            fields[key] = text.strip()
    return fields


@lru_cache(maxsize=8192)
def decode_header(raw: bytes | None) -> tuple[str, bool]:
    """Decode a raw header value (8-bit and RFC 2047); True when nothing was lost."""
    if not raw:
        return "", True
    text, ok = (raw.decode("ascii"), True) if raw.isascii() else decode_bytes(raw)
    text, words_ok = decode_words(text.replace("\r", "").replace("\n", ""))
    return text.strip(), ok and words_ok


@lru_cache(maxsize=8192)
def make_address(raw: RawAddress) -> tuple[Address | None, bool]:
    """Decode one envelope address; None for group markers and empty entries."""
    if raw.host is None:  # RFC 3501 group syntax: start and end markers have no host
        return None, True
    mailbox, host = (decode_bytes(part or b"")[0].strip() for part in (raw.mailbox, raw.host))
    email = f"{mailbox}@{host}".lower()
    if not mailbox or host.lower() in MISSING_HOSTS or not EMAIL.fullmatch(email):
        email = ""
    name, ok = decode_header(raw.name)
    name = " ".join(name.strip("\"' ").split())
    return (Address(name, email) if name or email else None), ok


def addresses(raws: tuple[RawAddress, ...], label: str, problems: list[str]) -> tuple[Address, ...]:
    """Decode an address list, noting undecodable names."""
    result = []
    for raw in raws:
        address, ok = make_address(raw)
        if not ok:
            problems.append(f"undecodable name in {label}")
        if address is not None:
            result.append(address)
    return tuple(result)


def normalize_message_id(value: str | bytes | None) -> str | None:
    """Return the first <...> id without whitespace or surrounding junk, or None."""
    if isinstance(value, bytes):
        value = decode_bytes(value)[0]
    if not value:
        return None
    compact = "".join(value.split())
    match = MESSAGE_ID.search(compact)
    if match:
        return match.group(0)
    bare = compact.strip("<>")
    return f"<{bare}>" if bare and "<" not in bare and ">" not in bare else None


def parse_references(value: str | None) -> tuple[str, ...]:
    """Every <...> id of a References header, in order, without duplicates."""
    if not value:
        return ()
    # Folding may split an id ("<a@\r\n b>"); ids themselves never contain whitespace.
    ids = ("".join(found.split()) for found in BRACKETED.findall(value))
    return tuple(dict.fromkeys(found for found in ids if len(found) > 2))


def synthetic_message_id(sender: str, date: datetime, subject: str, size: int) -> str:
    """A stable Message-ID for mail that has none: a hash of sender, date, subject and size."""
    instant = date.astimezone(UTC) if date.tzinfo else date.replace(tzinfo=UTC)
    key = "\x1f".join((sender.strip().lower(), instant.isoformat(), subject, str(size)))
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@leadsync.synthetic>"


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values are taken to be UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def header_date(raw: bytes | str | None) -> datetime | None:
    """The instant a Date header names, however unlikely; None when missing or unparseable."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    if not text or not text.strip():
        return None
    try:
        return as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_date(raw: bytes | str | None, now: datetime) -> datetime | None:
    """Parse a Date header; None when missing, unparseable, before 1980 or in the future."""
    parsed = header_date(raw)
    if parsed is None:
        return None
    return parsed if EARLIEST <= parsed <= now + FUTURE_SLACK else None


def choose_date(
    raw: bytes | str | None, internal: datetime | None, now: datetime, problems: list[str]
) -> datetime:
    """The Date header when sane, else INTERNALDATE, else the epoch; fallbacks are noted."""
    parsed = parse_date(raw, now)
    if parsed is not None:
        return parsed
    problems.append(f"bad or missing Date {raw[:60]!r}; using INTERNALDATE" if raw else "no Date")
    if internal is not None:
        return as_utc(internal)
    problems.append("no INTERNALDATE either; date set to 1970-01-01")
    return datetime(1970, 1, 1, tzinfo=UTC)


def is_automated(fields: dict[str, str]) -> bool:
    """True on clear bulk or machine-sent signals only (lists, bulk precedence, auto-replies)."""
    if "list-unsubscribe" in fields or "list-id" in fields:
        return True
    if fields.get("precedence", "").strip().lower() in BULK_PRECEDENCE:
        return True
    auto = fields.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    suppress = fields.get("x-auto-response-suppress", "").lower().replace(",", " ").split()
    if SUPPRESS_TOKENS.intersection(suppress):
        return True
    return fields.get("content-type", "").lower().startswith("multipart/report")


def envelope_from_headers(fields: dict[str, str]) -> RawEnvelope:
    """Build an envelope from header fields, for servers or fetches that gave no ENVELOPE."""

    def addrs(name: str) -> tuple[RawAddress, ...]:
        pairs = getaddresses([fields[name]]) if name in fields else []
        return tuple(
            RawAddress(display.encode() or None, *(p.encode() for p in email.rpartition("@")[::2]))
            for display, email in pairs
            if display or email
        )

    def value(name: str) -> bytes | None:
        return fields[name].encode() if name in fields else None

    return RawEnvelope(
        date=value("date"), subject=value("subject"), from_=addrs("from"),
        sender=addrs("sender"), reply_to=addrs("reply-to"), to=addrs("to"), cc=addrs("cc"),
        bcc=addrs("bcc"), in_reply_to=value("in-reply-to"), message_id=value("message-id"),
    )  # fmt: skip


def blank(envelope: RawEnvelope) -> bool:
    """True when every field is NIL or empty: no From, To, Subject, Date or Message-ID."""
    return not any(
        (envelope.date, envelope.subject, envelope.from_, envelope.sender, envelope.reply_to,
         envelope.to, envelope.cc, envelope.bcc, envelope.in_reply_to, envelope.message_id)
    )  # fmt: skip


def has_content(bodystructure: object) -> bool:
    """True when some part of the message has at least one octet."""
    text_parts, html_parts, files, _problems = walk_with_problems(bodystructure)
    return any(part.size > 0 for part in (*text_parts, *html_parts, *files))


def meta_from_fetch(raw: RawFetch, *, now: datetime | None = None) -> MessageMeta:
    """Turn one lean FETCH into a MessageMeta; bad data becomes problems, never exceptions."""
    fields = parse_header_fields(raw.header_fields or b"")
    envelope, problems = raw.envelope, []
    if envelope is None:
        if not fields:
            raise ParseError(f"UID {raw.uid}: no ENVELOPE and no header fields")
        problems.append("no ENVELOPE; using the fetched header fields")
        envelope = envelope_from_headers(fields)
    if blank(envelope):  # no sender, recipient, subject, date or id: nothing to read
        what = "no headers" if has_content(raw.bodystructure) else "empty message"
        raise ParseError(f"UID {raw.uid}: {what}")
    subject, ok = decode_header(envelope.subject)
    if not ok:
        problems.append("undecodable Subject")
    from_ = addresses(envelope.from_, "From", problems)
    raw_date = envelope.date or fields.get("date")
    date = choose_date(raw_date, raw.internaldate, now or datetime.now(UTC), problems)
    # The header itself, not the date chosen for display: INTERNALDATE differs between
    # copies and "in the future" depends on today, the fingerprint must not.
    fingerprint = content_fingerprint(header_date(raw_date), subject)
    text_parts, html_parts, attachments, structure_problems = walk_with_problems(raw.bodystructure)
    message_id = normalize_message_id(envelope.message_id)
    synthetic = message_id is None
    if message_id is None:
        sender = next((address.email for address in from_ if address.email), "")
        message_id = synthetic_message_id(sender, date, subject, raw.size)
    return MessageMeta(
        uid=raw.uid, message_id=message_id, synthetic_id=synthetic, fingerprint=fingerprint,
        subject=subject, date=date, from_=from_, to=addresses(envelope.to, "To", problems),
        cc=addresses(envelope.cc, "Cc", problems), bcc=addresses(envelope.bcc, "Bcc", problems),
        reply_to=addresses(envelope.reply_to, "Reply-To", problems),
        in_reply_to=normalize_message_id(envelope.in_reply_to),
        references=parse_references(fields.get("references")), size=max(raw.size, 0),
        flags=tuple(flag.decode("utf-8", "replace") for flag in raw.flags),
        text_parts=text_parts, html_parts=html_parts, attachments=attachments,
        automated=is_automated(fields), gm_msgid=raw.gm_msgid, gm_thrid=raw.gm_thrid,
        problems=tuple(problems) + structure_problems,
    )  # fmt: skip
