"""Pure message building: recipients, placeholders, the tiny safe markup, MIME assembly.

The rep's text is never executed: placeholders are replaced by plain values, and the
markup (paragraphs, line breaks, **bold**, *italic*, auto-links) is applied to escaped
text. Tracking is optional and decided by the caller through a `TrackingPlan`: one message
goes to every recipient, so its tokens name the email and the first To recipient.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from dashboard.mail.addresses import normalize_address

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# The names reps type (Portuguese) and the English ones of older templates, each mapped to
# the key of its value.
FIELDS = {
    "primeiro_nome": "first_name", "first_name": "first_name",
    "nome": "name", "name": "name",
    "empresa": "company", "company": "company",
    "meu_nome": "rep_name", "rep_name": "rep_name",
}  # fmt: skip
URL = re.compile(r"https?://[^\s<>\"'`\x00]+", re.IGNORECASE)
TRAILING = ".,;:!?*_'\"]>"
BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
REPLY_PREFIX = re.compile(r"^\s*(re|res|aw|sv|antw)\s*(\[\d+\])?\s*:", re.IGNORECASE)
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
MAX_RECIPIENTS = 50
LINK_MARK = "\x00{}\x00"
LINK_MARKS = re.compile(r"\x00(\d+)\x00")


class ComposeError(ValueError):
    """A composition that cannot be sent; `code` is stable and translated in views.

    Codes: no_recipients, invalid_address, too_many_recipients, no_mailbox, no_smtp.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def clean_addresses(values: Iterable[str]) -> list[str]:
    """Bare lowercased addresses without duplicates; ComposeError on the first invalid one."""
    cleaned: list[str] = []
    for value in values:
        if not value.strip():
            continue
        address = normalize_address(value.strip())
        if not ADDRESS.fullmatch(address) or len(address) > 254:
            raise ComposeError("invalid_address", value.strip())
        cleaned.append(address)
    return list(dict.fromkeys(cleaned))


def split_recipients(
    to: Iterable[str], cc: Iterable[str], bcc: Iterable[str]
) -> tuple[list[str], list[str], list[str]]:
    """Validated To, Cc and Bcc; an address is kept only in the first list naming it."""
    to_, cc_, bcc_ = clean_addresses(to), clean_addresses(cc), clean_addresses(bcc)
    cc_ = [a for a in cc_ if a not in to_]
    bcc_ = [a for a in bcc_ if a not in to_ and a not in cc_]
    if not to_:
        raise ComposeError("no_recipients")
    if len(to_) + len(cc_) + len(bcc_) > MAX_RECIPIENTS:
        raise ComposeError("too_many_recipients", str(MAX_RECIPIENTS))
    return to_, cc_, bcc_


def with_signature(body: str, signature: str) -> str:
    """The body followed by the usual "-- " separator and the signature, when there is one."""
    body, signature = normalize_newlines(body).rstrip(), signature.strip()
    return f"{body}\n\n-- \n{signature}" if signature else body


@dataclass(frozen=True)
class TrackingPlan:
    """Where the open pixel points and what each original link becomes (tracked URLs)."""

    pixel_url: str
    links: dict[str, str] = field(default_factory=dict)


def field_values(*, lead_name: str, company: str, rep_name: str) -> dict[str, str]:
    """The value of every placeholder for one lead and rep (empty when unknown)."""
    name = " ".join(lead_name.split())
    first = name.split(" ", 1)[0]
    return {"first_name": first, "name": name, "company": company.strip(), "rep_name": rep_name}


def merge_fields(text: str, values: Mapping[str, str]) -> str:
    """Replace each known placeholder that has a value key; leave anything else as typed."""

    def value(match: re.Match[str]) -> str:
        key = FIELDS.get(match.group(1), "")
        return values[key] if key in values else match.group(0)

    return PLACEHOLDER.sub(value, text)


def placeholder_gaps(text: str, values: Mapping[str, str]) -> list[str]:
    """Placeholders of the text that would go out wrong: unknown names, or no value for this
    lead (a missing first name would send "Olá ,"). Names as typed, in order, once each."""
    gaps = (
        m.group(1)
        for m in PLACEHOLDER.finditer(text)
        if not values.get(FIELDS.get(m.group(1), ""), "").strip()
    )
    return list(dict.fromkeys(gaps))


def apply_template(
    subject: str, body: str, template: tuple[str, str], previous: tuple[str, str] | None = None
) -> tuple[str, str]:
    """Subject and body after picking a template (subject, body), keeping what the rep typed.

    The template's subject fills an empty subject; its body fills an empty body or goes
    below what the rep wrote, after a blank line. Text still exactly as the previously
    picked template left it counts as untyped, so switching templates does not stack them.
    """
    if previous is not None and _same(subject, previous[0]):
        subject = ""
    if previous is not None and _same(body, previous[1]):
        body = ""
    subject = subject if subject.strip() else template[0]
    typed = normalize_newlines(body).rstrip()
    body = f"{typed}\n\n{template[1]}" if typed.strip() else template[1]
    return subject, body


def _same(typed: str, original: str) -> bool:
    """Is the typed text what a template put there (line endings and edges aside)?"""
    return normalize_newlines(typed).strip() == normalize_newlines(original).strip()


def without_signature(body: str, signature: str) -> str:
    """The body before the "-- " separator `with_signature` added (only if there is a
    signature: otherwise a "-- " line is the rep's own text)."""
    head, separator, _tail = normalize_newlines(body).rpartition("\n\n-- \n")
    return head if separator and signature.strip() else body


def normalize_newlines(text: str) -> str:
    """Return text with \\n line endings and no NUL characters."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def trim_url(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the link (keeps balanced parens)."""
    while url and (url[-1] in TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def find_links(body: str) -> list[str]:
    """Every http(s) link of a body, in order of first appearance, without duplicates."""
    found = (trim_url(m.group(0)) for m in URL.finditer(normalize_newlines(body)))
    return list(dict.fromkeys(u for u in found if URL.fullmatch(u)))


def _mark_links(text: str) -> tuple[str, list[str]]:
    """Replace each link with a NUL-delimited index so escaping and markup leave it alone."""
    links: list[str] = []

    def mark(match: re.Match[str]) -> str:
        url = trim_url(match.group(0))
        if not URL.fullmatch(url):
            return match.group(0)
        links.append(url)
        return LINK_MARK.format(len(links) - 1) + match.group(0)[len(url) :]

    return URL.sub(mark, text), links


def _anchor(url: str, href: Callable[[str], str] | None) -> str:
    """Return the <a> element of a link; the text always shows the original URL."""
    target = href(url) if href else url
    return f'<a href="{html.escape(target)}">{html.escape(url)}</a>'


def _inline(line: str) -> str:
    """Apply **bold** and *italic* to an already escaped line."""
    return ITALIC.sub(r"<em>\1</em>", BOLD.sub(r"<strong>\1</strong>", line))


def simple_format_to_html(body: str, *, href: Callable[[str], str] | None = None) -> str:
    """Render the tiny markup to safe HTML; `href` may map each link to its tracked URL."""
    marked, links = _mark_links(normalize_newlines(body).strip("\n"))
    paragraphs = []
    for block in PARAGRAPH_BREAK.split(marked):
        lines = [_inline(html.escape(line, quote=False)) for line in block.split("\n")]
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    rendered = "\n".join(paragraphs) if marked.strip() else ""
    return LINK_MARKS.sub(lambda m: _anchor(links[int(m.group(1))], href), rendered)


def simple_format_to_text(body: str) -> str:
    """The text/plain part: what the rep wrote (the markup reads well as plain text)."""
    return normalize_newlines(body).strip("\n") + "\n"


def html_document(fragment: str, pixel_url: str | None = None) -> str:
    """Wrap rendered paragraphs in a minimal HTML document, with the open pixel last."""
    pixel = f'<img src="{html.escape(pixel_url)}" width="1" height="1" alt="">' if pixel_url else ""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{fragment}\n{pixel}</body></html>\n"
    )


def make_message_id(domain: str) -> str:
    """A new globally unique Message-ID generated by LeadSync, e.g. <ls.3f2a...@acme.com>."""
    return f"<ls.{secrets.token_hex(16)}@{domain.strip().lower() or 'leadsync.invalid'}>"


def reply_subject(subject: str) -> str:
    """Prefix "Re: " unless the subject already carries a reply prefix (Re:, RES:, AW: ...)."""
    subject = " ".join(subject.split())
    return subject if REPLY_PREFIX.match(subject) else f"Re: {subject}".rstrip()


def address_header(addresses: Iterable[str]) -> str:
    """A To/Cc header value from bare addresses."""
    return ", ".join(str(Address(addr_spec=a)) for a in addresses)


def build_message(
    *,
    from_name: str,
    from_addr: str,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None,
    references: list[str],
    tracking: TrackingPlan | None,
    date: datetime | None = None,
) -> EmailMessage:
    """Build a multipart/alternative message; Bcc goes in the envelope only, never a header."""
    del bcc  # accepted so callers pass the whole composition; the SMTP envelope carries it
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=from_name, addr_spec=from_addr)
    message["To"] = address_header(to)
    if cc:
        message["Cc"] = address_header(cc)
    message["Subject"] = reply_subject(subject) if in_reply_to else " ".join(subject.split())
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    # Quoted-printable keeps every line 7-bit and short, whatever the server supports.
    message.set_content(simple_format_to_text(body), cte="quoted-printable")
    links = tracking.links if tracking else {}
    fragment = simple_format_to_html(body, href=lambda url: links.get(url, url))
    pixel = tracking.pixel_url if tracking else None
    message.add_alternative(html_document(fragment, pixel), subtype="html", cte="quoted-printable")
    return message
