"""The files of a message: their names, and which of them are listed under its body.

Pure: standard library only. A file's name comes from BODYSTRUCTURE; when the server could
not read the part's Content-Type it gives no parameters at all, so the name of a nameless
part is looked for in the part's own MIME header too, with the email package's parser.

An image the HTML body shows through `cid:` is part of the body, not a file to download,
so it is not listed; an image with a Content-ID that the HTML never shows is listed like
any attachment. A file without a name is listed under one made from its type and its place
in the list ("image-1.png"), never under a bare "attachment".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from email import policy
from email.errors import MessageError
from email.parser import BytesHeaderParser
from mimetypes import MimeTypes
from typing import Protocol, TypeVar
from urllib.parse import unquote

from dashboard.mail.mime import Part, decode_words, without_nul

# The images a body shows inline (served to the frame as images; anything else, SVG
# included, is only ever a download).
RASTER_TYPES = frozenset({"image/png", "image/gif", "image/jpeg", "image/webp"})
# An <img> source naming a Content-ID: src=cid:..., quoted or not.
CID_SOURCE = re.compile(r"""\bsrc\s*=\s*["']?\s*cid:([^"'\s>]+)""", re.I)
# What the sync stored for a nameless part before names were made when listed.
LEGACY_PLACEHOLDER = "attachment"
# The standard library's own table only: the system's mime.types must not change names.
BUILTIN_TYPES = MimeTypes(filenames=())


# A name parameter the parser missed (a header with a missing ";", say).
LOOSE_NAME = re.compile(r"""\b(?:file)?name\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))""", re.I)
HEADER_PARSER = BytesHeaderParser(policy=policy.default)


def header_section(part: Part) -> str:
    """The IMAP section of a part's MIME header ("2.MIME"; the message header for "1" of a
    single-part message, as servers answer it)."""
    return f"{part.section}.MIME"


def nameless(attachments: Sequence[Part]) -> tuple[Part, ...]:
    """The attachments BODYSTRUCTURE gave no name."""
    return tuple(part for part in attachments if not part.filename)


def name_from_header(header: bytes) -> str | None:
    """The file name a part's MIME header gives (RFC 2231, RFC 2047, 8-bit), or None."""
    try:
        found = HEADER_PARSER.parsebytes(header).get_filename()
    except (MessageError, LookupError, ValueError, TypeError, IndexError, AttributeError):
        found = None  # a header the parser chokes on: the loose reading below may still do
    if not found:
        loose = LOOSE_NAME.search(header.decode("utf-8", "replace"))
        found = (loose.group(1) or loose.group(2)) if loose else None
    name = without_nul(decode_words(str(found))[0]).strip() if found else ""
    return name or None


def with_header_names(attachments: tuple[Part, ...], headers: dict[str, bytes]) -> tuple[Part, ...]:
    """The attachments, nameless ones named from their fetched MIME headers when they can be."""
    named = []
    for part in attachments:
        header = headers.get(header_section(part)) if not part.filename else None
        name = name_from_header(header) if header else None
        named.append(replace(part, filename=name) if name else part)
    return tuple(named)


class FilePart(Protocol):
    """What naming and listing need to know of an attachment."""

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def content_id(self) -> str | None: ...


File = TypeVar("File", bound=FilePart)


def normalize_cid(value: str) -> str:
    """A Content-ID as matched: percent-decoded, no angle brackets, lowercase."""
    return unquote(value).strip().strip("<>").strip().lower()


def referenced_cids(html: str) -> frozenset[str]:
    """The Content-IDs the HTML body's images name, normalized."""
    if "cid:" not in html.lower():
        return frozenset()
    return frozenset(normalize_cid(found) for found in CID_SOURCE.findall(html))


def shown_in_body(part: FilePart, referenced: frozenset[str]) -> bool:
    """True for an image the body shows in place (a raster image its HTML names by cid:)."""
    return (
        part.content_type.lower() in RASTER_TYPES
        and bool(part.content_id)
        and normalize_cid(part.content_id or "") in referenced
    )


def extension(content_type: str) -> str:
    """The usual file extension of a type (".png"), or "" when there is none."""
    return BUILTIN_TYPES.guess_extension(content_type.lower()) or ""


def listed_files(
    parts: Sequence[File], body_html: str, unnamed: Callable[[str, int], str]
) -> list[tuple[File, str]]:
    """The files to list under the body, in order, each with the name to show.

    `unnamed(content_type, number)` gives the stem of a nameless file's name (translated by
    the caller, e.g. "imagem-1"); numbers count the nameless files of the list from 1."""
    referenced = referenced_cids(body_html)
    listed, nameless = [], 0
    for part in parts:
        if shown_in_body(part, referenced):
            continue
        name = part.filename.strip()
        if not name or name == LEGACY_PLACEHOLDER:
            nameless += 1
            name = unnamed(part.content_type, nameless) + extension(part.content_type)
        listed.append((part, name))
    return listed
