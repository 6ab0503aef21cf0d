"""MIME helpers for the lean fetch: charsets, RFC 2047 words, BODYSTRUCTURE walking, text parts.

Pure: standard library only. Nothing here raises on bad input; every decoder falls back
(declared charset, then UTF-8, then cp1252 with replacement) and reports whether it had to.
No decoded text holds a NUL: every decoder strips them, so what is stored round-trips
through UTF-8 and any export or page.
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote_to_bytes

# Labels Python lacks, and codecs to read as their superset, as browsers do (WHATWG).
LABELS = {"x-sjis": "shift_jis", "x-gbk": "gbk", "win-1252": "cp1252", "x-mac-roman": "mac-roman"}
SUPERSETS = {
    "iso8859-1": "cp1252", "iso8859-9": "cp1254", "gb2312": "gb18030", "gbk": "gb18030",
    "euc_kr": "cp949", "tis-620": "cp874", "iso8859-11": "cp874",
}  # fmt: skip
ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
HTML_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.+-]+)""", re.I)
RFC2231_KEY = re.compile(r"([^*]+)\*(?:(\d+)\*?|)")
MIME_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")  # RFC 2045 token
UNREADABLE_TYPE = "application/octet-stream"
MAX_DEPTH = 40  # Dovecot nests at most ~100 levels; our walk stops well before Python's limit


@dataclass(frozen=True, slots=True)
class Part:
    """One BODYSTRUCTURE leaf: where it is (IMAP section) and what it is."""

    section: str
    content_type: str
    charset: str | None
    encoding: str
    size: int
    filename: str | None
    content_id: str | None
    inline: bool


@lru_cache(maxsize=256)
def codec_for(charset: str | None) -> str | None:
    """Return a Python text codec for a declared charset, or None when unknown."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(LABELS.get(name, name))
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    # bytes-to-bytes codecs ("base64", "hex", "zip") are not charsets
    if not getattr(info, "_is_text_encoding", True):
        return None
    return SUPERSETS.get(info.name, info.name)


def without_nul(value: str) -> str:
    """The text without NUL characters (they break C strings, exports and some databases)."""
    return value.replace("\x00", "") if "\x00" in value else value


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, bool]:
    """Decode with the declared charset, then UTF-8, then cp1252; True if the first choice did.

    NULs are stripped. Any UnicodeError counts as a failed choice: "idna", "punycode" and
    "undefined" are charsets too and raise a bare UnicodeError, not UnicodeDecodeError.
    """
    declared = codec_for(charset)
    trusted = declared is not None or not charset or data.isascii()
    for index, name in enumerate(n for n in (declared, "utf-8", "cp1252") if n):
        try:
            return without_nul(data.decode(name)), index == 0 and trusted
        except UnicodeError:
            continue
    return without_nul(data.decode("cp1252", errors="replace")), False


def _word_bytes(encoding: str, text: str) -> bytes:
    """Decode the payload of one encoded word (Q or B), tolerating bad padding."""
    if encoding in "Qq":
        return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    return base64_bytes(text.encode("ascii", "replace"))


def decode_words(value: str) -> tuple[str, bool]:
    """Decode RFC 2047 encoded words in a header value; True when nothing was lost."""
    if "=?" not in value:
        return without_nul(value), True
    out: list[str] = []
    pending, charset, ok, last = b"", "", True, 0
    for match in ENCODED_WORD.finditer(value):
        between, word_charset = value[last : match.start()], match.group(1)
        # Whitespace between two encoded words is dropped; same-charset words join as bytes
        # so a character split across words survives.
        if not charset or (between and not between.isspace()):
            ok &= _flush(out, pending, charset)
            out.append(between)
            pending = b""
        elif word_charset.lower() != charset.lower():
            ok &= _flush(out, pending, charset)
            pending = b""
        try:
            pending += _word_bytes(match.group(2), match.group(3))
        except (binascii.Error, ValueError):
            ok = False
        charset, last = word_charset, match.end()
    ok &= _flush(out, pending, charset)
    out.append(value[last:])
    return without_nul("".join(out)), ok


def _flush(out: list[str], data: bytes, charset: str) -> bool:
    """Append decoded bytes of encoded words to out; False when the charset failed us."""
    if not data:
        return True
    decoded, ok = decode_bytes(data, charset)
    out.append(decoded)
    return ok


def base64_bytes(data: bytes) -> bytes:
    """Decode base64 ignoring junk characters and missing or extra padding."""
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def text(value: object) -> str:
    """Return a BODYSTRUCTURE atom as str (bytes as UTF-8/cp1252; NIL as "")."""
    if isinstance(value, bytes):
        return without_nul(value.decode("ascii")) if value.isascii() else decode_bytes(value)[0]
    return without_nul(value) if isinstance(value, str) else ""


def params_dict(value: object) -> dict[str, str]:
    """Turn a flat (name, value, name, value, ...) list into a dict, joining RFC 2231 pieces."""
    if not isinstance(value, tuple | list):
        return {}
    raw = {text(k).lower(): text(v) for k, v in zip(value[::2], value[1::2], strict=False)}
    pieces: dict[str, list[tuple[int, str, bool]]] = {}
    for key, val in raw.items():
        match = RFC2231_KEY.fullmatch(key) if "*" in key else None
        if match:
            index = int(match.group(2) or 0)
            pieces.setdefault(match.group(1), []).append((index, val, key.endswith("*")))
    for name, chunks in pieces.items():
        raw[name] = _join_rfc2231(sorted(chunks))
    return raw


def _join_rfc2231(chunks: list[tuple[int, str, bool]]) -> str:
    """Join RFC 2231 continuations; percent-decode the starred ones in the declared charset."""
    charset, data = "utf-8", b""
    for index, value, encoded in chunks:
        if encoded and index == 0 and value.count("'") >= 2:
            charset, _lang, value = value.split("'", 2)
        data += unquote_to_bytes(value) if encoded else value.encode("utf-8")
    return decode_bytes(data, charset)[0]


def _disposition(node: tuple | list, index: int) -> tuple[str, dict[str, str]]:
    """Return (disposition, params) from the extension field at index, or ("", {})."""
    value = node[index] if len(node) > index else None
    if isinstance(value, tuple | list) and value and isinstance(value[0], bytes | str):
        return text(value[0]).lower(), params_dict(value[1] if len(value) > 1 else None)
    return "", {}


def content_type(main: str, sub: str) -> str:
    """ "type/subtype" lowercased; application/octet-stream when the header could not be
    read (the server gives "" for "Content-Type: application pdf", "pdf" alone for
    "Content-Type: pdf"): such a part is still a file to list, of a type nobody can tell."""
    if MIME_TOKEN.fullmatch(main) and MIME_TOKEN.fullmatch(sub):
        return f"{main}/{sub}".lower()
    return UNREADABLE_TYPE


def _leaf(node: tuple | list, section: str) -> tuple[Part, str]:
    """Build a Part from a single-part BODYSTRUCTURE node; also return its disposition."""
    if not isinstance(node, tuple | list) or len(node) < 7:
        raise ValueError("not a BODYSTRUCTURE leaf")
    ctype = content_type(text(node[0]), text(node[1]))
    params = params_dict(node[2])
    disp_at = 9 if ctype.startswith("text/") else 11 if ctype == "message/rfc822" else 8
    disposition, disp_params = _disposition(node, disp_at)
    filename = disp_params.get("filename") or params.get("name") or None
    if ctype == "message/rfc822" and not filename:
        envelope = node[7] if len(node) > 7 and isinstance(node[7], tuple | list) else ()
        subject = decode_words(text(envelope[1]))[0].strip() if len(envelope) > 1 else ""
        filename = f"{subject}.eml" if subject else "message.eml"
    content_id = text(node[3]).strip() or None
    part = Part(
        section=section, content_type=ctype, charset=params.get("charset") or None,
        encoding=text(node[5]).lower() or "7bit",
        size=max(node[6], 0) if isinstance(node[6], int) else 0,
        filename=decode_words(filename)[0].strip() or None if filename else None,
        content_id=content_id,
        inline=disposition == "inline" or (not disposition and content_id is not None),
    )  # fmt: skip
    return part, disposition


def _children(node: tuple | list) -> tuple[list, str] | None:
    """Return (parts, subtype) for a multipart node (imapclient or raw form), else None."""
    if isinstance(node[0], list):
        return node[0], text(node[1]).lower()
    if isinstance(node[0], tuple):
        parts = [p for p in node if isinstance(p, tuple | list)]
        subtype = next((text(p) for p in node if isinstance(p, bytes | str)), "")
        return parts, subtype.lower()
    return None


@dataclass(slots=True)
class Leaf:
    """A leaf found by the walk, and whether it is an attachment rather than a body."""

    part: Part
    attachment: bool


@dataclass(slots=True)
class Bodies:
    """What a node shows, in order: its text/plain parts, and its parts when shown as HTML
    (empty when it holds no HTML at all)."""

    text: list[Part] = field(default_factory=list)
    html: list[Part] = field(default_factory=list)


def leaf_bodies(leaf: Leaf) -> Bodies:
    """A text/plain or text/html leaf that is not an attachment shows itself."""
    if leaf.attachment:
        return Bodies()
    if leaf.part.content_type == "text/html":
        return Bodies(html=[leaf.part])
    return Bodies(text=[leaf.part])


def multipart_bodies(subtype: str, children: list[Bodies]) -> Bodies:
    """What a multipart shows of its children, as mail programs do (RFC 2046, RFC 2387).

    alternative: one child, the first with plain text for the text, the last (the richest)
    with HTML for the HTML. related: its root, the first child; the rest are its images.
    Anything else (mixed, signed, report...): every child in order, so a message written as
    html, image, html (Apple Mail) shows both HTML parts; where some child has HTML, the
    children with plain text only are shown in the HTML as text."""
    if subtype == "alternative":
        text = next((child.text for child in children if child.text), [])
        return Bodies(text, next((child.html for child in reversed(children) if child.html), []))
    if subtype == "related":
        return children[0] if children else Bodies()
    text = [part for child in children for part in child.text]
    if not any(child.html for child in children):
        return Bodies(text)
    return Bodies(text, [part for child in children for part in child.html or child.text])


def collect_leaves(
    node: object, problems: list[str], section: str = ""
) -> tuple[list[Leaf], Bodies]:
    """Every readable leaf in order, and what the node shows; unreadable nodes are noted."""
    try:
        multipart = _children(node) if isinstance(node, tuple | list) and node else None
        if multipart is None:
            part, disposition = _leaf(node, section or "1")  # type: ignore[arg-type]
            wanted = part.content_type in ("text/plain", "text/html")
            attached = disposition == "attachment" or part.filename is not None or not wanted
            leaf = Leaf(part, attached)
            return [leaf], leaf_bodies(leaf)
    except (TypeError, ValueError, IndexError, AttributeError):
        problems.append(f"unreadable BODYSTRUCTURE part {section or '1'}")
        return [], Bodies()
    if section.count(".") >= MAX_DEPTH:
        problems.append(f"BODYSTRUCTURE nested too deep at {section}")
        return [], Bodies()
    leaves: list[Leaf] = []
    shown: list[Bodies] = []
    for number, child in enumerate(multipart[0], 1):
        child_section = f"{section}.{number}" if section else str(number)
        child_leaves, child_bodies = collect_leaves(child, problems, child_section)
        leaves += child_leaves
        shown.append(child_bodies)
    return leaves, multipart_bodies(multipart[1], shown)


def walk_bodystructure(
    bs: object,
) -> tuple[tuple[Part, ...], tuple[Part, ...], tuple[Part, ...]]:
    """Return (text/plain body parts, parts shown as HTML, attachments) from a BODYSTRUCTURE.

    The HTML parts are empty when the message has no HTML; otherwise they may include
    text/plain parts that sit beside the HTML ones, to be shown as text among them."""
    text_parts, html_parts, attachments, _problems = walk_with_problems(bs)
    return text_parts, html_parts, attachments


def walk_with_problems(
    bs: object,
) -> tuple[tuple[Part, ...], tuple[Part, ...], tuple[Part, ...], tuple[str, ...]]:
    """Like walk_bodystructure, plus notes on the parts that could not be read."""
    problems: list[str] = []
    leaves, bodies = collect_leaves(bs, problems) if bs is not None else ([], Bodies())
    attachments = tuple(leaf.part for leaf in leaves if leaf.attachment)
    return tuple(bodies.text), tuple(bodies.html), attachments, tuple(problems)


def transfer_decode(payload: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding; unknown encodings pass through unchanged."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        return base64_bytes(payload)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(payload)
    return payload


def decode_part(payload: bytes, part: Part) -> str:
    """Decode a fetched text part (transfer encoding, then charset with fallbacks); never raises."""
    data = transfer_decode(payload, part.encoding)
    charset = part.charset
    if charset is None and part.content_type == "text/html":
        match = HTML_META_CHARSET.search(data[:4096])
        charset = match.group(1).decode("ascii") if match else None
    decoded, _ok = decode_bytes(data, charset)
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


BASE64_LINE = 78  # 76 characters and CRLF: RFC 2045's limit, what mail programs write


def decoded_size(size: int, encoding: str) -> int:
    """The size of a part once decoded, from its size as sent (BODYSTRUCTURE counts the
    transfer-encoded octets: base64 is a third larger, plus a CRLF every 76 characters).

    Exact to a byte or two for base64 written in 76-character lines; quoted-printable and
    the rest are reported as sent (their decoded size cannot be told without the bytes).
    """
    if encoding.lower() != "base64" or size <= 0:
        return max(size, 0)
    characters = size - 2 * -(-size // BASE64_LINE)  # minus a CRLF per (started) line
    return max(characters, 0) * 3 // 4
