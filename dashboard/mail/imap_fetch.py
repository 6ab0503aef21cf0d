"""The sync's IMAP commands: STATUS, EXAMINE, UID SEARCH, the lean FETCH and part downloads.

With imap_client.py, the only importer of imapclient. Everything returned is plain data
(parse.Raw* dataclasses, ints, bytes). Every FETCH uses BODY.PEEK and every folder is
opened read-only (EXAMINE): syncing never marks mail as read. Errors are left to
`imap_client.connect`, which turns them into ImapError.

Importing this module changes nothing in imapclient; `install()` swaps in the fast FETCH
lexer and parser below for the whole process (the sync calls it when a round starts).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

import imapclient
from imapclient import response_lexer, response_parser
from imapclient.exceptions import ProtocolError

from dashboard.mail.parse import RawAddress, RawEnvelope, RawFetch

HEADER_FIELDS = (
    "REFERENCES LIST-UNSUBSCRIBE LIST-ID PRECEDENCE AUTO-SUBMITTED "
    "X-AUTO-RESPONSE-SUPPRESS CONTENT-TYPE DATE"
)
LEAN_FETCH = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "RFC822.SIZE",
    "INTERNALDATE",
    "FLAGS",
    f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]",
]
GMAIL_FETCH = ["X-GM-MSGID", "X-GM-THRID"]

# imapclient's Lexer walks every response byte in a Python loop: about 40% of a first
# sync's CPU. This regex yields the same tokens (whitespace skipped, quoted strings with \\
# and \" unescaped, atoms with [...] sections kept whole, single special characters);
# tests/mail/test_imap_fetch.py checks it against the original on real server answers.
_TOKEN = re.compile(
    rb'[ \t\r\n]*(?:("(?:[^"\\]|\\.)*")|((?:[^ \t\r\n()%"\[\x00-\x1f]|\[[^\]]*\])+)|(.))',
    re.DOTALL,
)
_UNESCAPE = re.compile(rb'\\([\\"])')
# imapclient's own versions, kept for the tests that compare them with the fast ones.
ORIGINAL_LEXER_ITER = response_lexer.Lexer.__iter__
ORIGINAL_GEN_PARSED_RESPONSE = response_parser.gen_parsed_response


def fast_lexer_iter(self: response_lexer.Lexer) -> Iterator[bytes]:
    """Lexer.__iter__ with one regex per response chunk instead of a loop per byte."""
    for source in self.sources:
        self.current_source = source
        for quoted, word, special in _TOKEN.findall(source.src_text):
            if word:
                yield word
            elif quoted:
                yield _UNESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted
            elif special and special not in b" \t\r\n":
                yield special


def fast_gen_parsed_response(text: list[Any]) -> Iterator[Any]:
    """response_parser.gen_parsed_response fused with the lexer above.

    The original pulls every token through two generators and a recursive parse_tuple:
    after the regex lexer, still ~20% of a first sync's CPU. Here each chunk is one
    findall, tuples are built on an explicit stack, and values are converted exactly as
    response_parser.atom does (NIL, {n} literals, quoted strings, digit runs without a
    leading 0). tests/mail/test_imap_fetch.py compares both on real server answers.
    """
    if not text:
        return
    stack: list[list[Any]] = []
    word: bytes | None = None
    try:
        for chunk in text:
            if isinstance(chunk, tuple):
                source, literal = chunk[0], chunk[1]
                if not source.endswith(b"}"):
                    raise ProtocolError(f"unexpected response: {source!r}")
            else:
                source, literal = chunk, None
            for quoted, word, special in _TOKEN.findall(source):
                if word:
                    if word == b"NIL":
                        value: Any = None
                    elif word[:1] == b"{":
                        if literal is None:
                            raise ProtocolError(f"No literal corresponds to {word!r}")
                        if len(literal) != int(word[1:-1]):
                            raise ProtocolError(
                                f"Expecting literal of size {int(word[1:-1])}, got {len(literal)}"
                            )
                        value = literal
                    elif word.isdigit() and (word[:1] != b"0" or len(word) == 1):
                        value = int(word)
                    else:
                        value = word
                elif quoted:
                    value = (_UNESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted)[1:-1]
                elif special == b"(":
                    stack.append([])
                    continue
                elif special == b")" and stack:
                    value = tuple(stack.pop())
                elif special in b" \t\r\n":
                    continue
                else:  # a lone special character is its own atom, as in response_parser.atom
                    value = special
                if stack:
                    stack[-1].append(value)
                else:
                    yield value
    except ValueError as error:
        raise ProtocolError(f"{error}: {word!r}") from error
    if stack:
        raise ProtocolError("Tuple incomplete before the end of the response")


def install() -> None:
    """Make every imapclient of the process use the fast lexer and parser; idempotent.

    Process-wide because imapclient offers no per-client hook; the answers are the same,
    only cheaper. Threads already parsing finish with the version they started with.
    """
    response_lexer.Lexer.__iter__ = fast_lexer_iter  # imapclient 3.x/4.x Lexer (pinned below 5)
    response_parser.gen_parsed_response = fast_gen_parsed_response


@dataclass(frozen=True)
class FolderStatus:
    """What EXAMINE says about a folder."""

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    exists: int


def is_gmail(capabilities: Iterable[str]) -> bool:
    """True when the server speaks Gmail's extensions (X-GM-MSGID, X-GM-THRID)."""
    return any(c.upper() == "X-GM-EXT-1" for c in capabilities)


def examine(client: imapclient.IMAPClient, folder: str) -> FolderStatus:
    """Open a folder read-only and return its UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ."""
    client.normalise_times = False  # keep the zones the server sent
    info = client.select_folder(folder, readonly=True)
    modseq = info.get(b"HIGHESTMODSEQ")
    return FolderStatus(
        folder,
        int(info[b"UIDVALIDITY"]),
        int(info.get(b"UIDNEXT") or 0),
        int(modseq) if modseq else None,
        int(info.get(b"EXISTS") or 0),
    )


def status(client: imapclient.IMAPClient, folder: str) -> FolderStatus:
    """STATUS of a folder that is not selected: UIDVALIDITY, UIDNEXT and the message count,
    without opening it (a round with nothing new needs no more)."""
    info = client.folder_status(folder, ["UIDVALIDITY", "UIDNEXT", "MESSAGES"])
    return FolderStatus(
        folder,
        int(info[b"UIDVALIDITY"]),
        int(info.get(b"UIDNEXT") or 0),
        None,
        int(info.get(b"MESSAGES") or 0),
    )


def search_since(client: imapclient.IMAPClient, since: dt.date) -> list[int]:
    """UIDs of messages received on or after a day, oldest first."""
    return sorted(client.search(["SINCE", since]))


def search_above(client: imapclient.IMAPClient, last_uid: int) -> list[int]:
    """UIDs above the last one seen, oldest first ("n:*" always matches the newest: drop it)."""
    return sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)


def _addresses(values: tuple[Any, ...] | None) -> tuple[RawAddress, ...]:
    """imapclient Address tuples -> RawAddress tuple."""
    return tuple(RawAddress(a.name, a.mailbox, a.host) for a in values or ())


def _date(value: dt.datetime | bytes | None) -> bytes | None:
    """imapclient parses the envelope Date; turn it back into RFC 5322 bytes for parse.py."""
    if isinstance(value, dt.datetime):
        try:
            return format_datetime(value).encode("ascii")
        except (ValueError, OverflowError):  # e.g. a zone of +9999: fall back to the header
            return None
    return value if isinstance(value, bytes) else None


def _envelope(envelope: Any) -> RawEnvelope | None:
    """imapclient Envelope -> RawEnvelope."""
    if envelope is None:
        return None
    return RawEnvelope(
        date=_date(envelope.date),
        subject=envelope.subject,
        from_=_addresses(envelope.from_),
        sender=_addresses(envelope.sender),
        reply_to=_addresses(envelope.reply_to),
        to=_addresses(envelope.to),
        cc=_addresses(envelope.cc),
        bcc=_addresses(envelope.bcc),
        in_reply_to=envelope.in_reply_to,
        message_id=envelope.message_id,
    )


def raw_fetch(uid: int, data: dict[bytes, Any]) -> RawFetch:
    """One message of a lean FETCH -> RawFetch."""
    headers = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    internaldate = data.get(b"INTERNALDATE")
    if isinstance(internaldate, dt.datetime) and internaldate.tzinfo is None:
        internaldate = internaldate.replace(tzinfo=dt.UTC)
    flags = tuple(f if isinstance(f, bytes) else str(f).encode() for f in data.get(b"FLAGS", ()))
    return RawFetch(
        uid=uid,
        envelope=_envelope(data.get(b"ENVELOPE")),
        bodystructure=data.get(b"BODYSTRUCTURE"),
        header_fields=headers or b"",
        size=int(data.get(b"RFC822.SIZE") or 0),
        internaldate=internaldate,
        flags=flags,
        gm_msgid=data.get(b"X-GM-MSGID"),
        gm_thrid=data.get(b"X-GM-THRID"),
    )


def fetch_headers(
    client: imapclient.IMAPClient, uids: list[int], *, gmail: bool = False
) -> list[RawFetch]:
    """The lean FETCH of a batch: envelope, structure, a few headers, size, date, flags."""
    items = LEAN_FETCH + (GMAIL_FETCH if gmail else [])
    try:
        response = client.fetch(uids, items)
    except (ValueError, OverflowError, TypeError):
        # imapclient could not parse one message's answer (e.g. an absurd Date in the
        # ENVELOPE): split the batch until the culprit is alone, then fetch it without ENVELOPE.
        if len(uids) == 1:
            return [without_envelope(client, uids[0])]
        half = len(uids) // 2
        return [
            *fetch_headers(client, uids[:half], gmail=gmail),
            *fetch_headers(client, uids[half:], gmail=gmail),
        ]
    return [safe_raw_fetch(uid, response[uid]) for uid in uids if uid in response]


FALLBACK_FIELDS = "FROM TO CC BCC SUBJECT MESSAGE-ID IN-REPLY-TO REPLY-TO SENDER"


def without_envelope(client: imapclient.IMAPClient, uid: int) -> RawFetch:
    """One message fetched with its header fields instead of ENVELOPE (parse.py builds it)."""
    items = [i for i in LEAN_FETCH if i != "ENVELOPE"]
    items[-1] = f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS} {FALLBACK_FIELDS})]"
    try:
        data = client.fetch([uid], items).get(uid, {})
    except (ValueError, OverflowError, TypeError):
        data = {}
    return safe_raw_fetch(uid, data)


def safe_raw_fetch(uid: int, data: dict[bytes, Any]) -> RawFetch:
    """raw_fetch, or an empty RawFetch that parse.py turns into a "parse_error" skip."""
    try:
        return raw_fetch(uid, data)
    except (ValueError, OverflowError, TypeError):
        return RawFetch(uid, None, None, b"", 0, None)


def fetch_sections(
    client: imapclient.IMAPClient, wanted: dict[int, tuple[str, ...]]
) -> dict[int, dict[str, bytes]]:
    """Download chosen body parts; one FETCH per distinct set of sections."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for uid, sections in wanted.items():
        if sections:
            groups.setdefault(tuple(sorted(sections)), []).append(uid)
    result: dict[int, dict[str, bytes]] = {}
    for sections, uids in groups.items():
        response = client.fetch(uids, [f"BODY.PEEK[{s}]" for s in sections])
        for uid, data in response.items():
            result[uid] = {s: data.get(f"BODY[{s}]".encode()) or b"" for s in sections}
    return result


def fetch_section(client: imapclient.IMAPClient, uid: int, section: str) -> bytes | None:
    """One part of one message (attachments on demand); None when the message is gone."""
    response = client.fetch([uid], [f"BODY.PEEK[{section}]"])
    data = response.get(uid)
    return None if data is None else data.get(f"BODY[{section}]".encode())
