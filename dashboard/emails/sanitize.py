"""Email bodies made safe to show: HTML through an nh3 allow-list, plain text escaped.

Pure functions (nh3 and the standard library only). Their output is shown only inside
a sandboxed iframe served with its own CSP (dashboard/emails/views.py), never in the
HTMX-driven page: the sanitizer is one layer, the sandbox and the CSP are two more.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable

import nh3

from dashboard.emails.styles import STYLE_PROPERTIES, readable_colours, safe_style
from dashboard.mail.body_text import PART_BREAK
from dashboard.mail.files import normalize_cid

TAGS = frozenset(
    {"a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote",
     "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details",
     "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2",
     "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark",
     "nav", "ol", "p", "pre", "q", "s", "samp", "section", "small", "span", "strike",
     "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
     "time", "tr", "tt", "u", "ul", "var", "wbr"}
)  # fmt: skip
# Removed with everything inside: their content is code, or markup that a browser would
# parse differently from the sanitizer (the mutation-XSS family), or invisible junk.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "noembed", "noframes", "xmp", "iframe",
     "object", "applet", "title", "textarea", "select", "svg", "math", "head"}
)  # fmt: skip
CELL = {"align", "valign", "bgcolor", "width", "height", "colspan", "rowspan", "nowrap"}
ATTRIBUTES = {
    "*": {"style", "dir", "lang", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"width", "height", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": CELL,
    "th": CELL,
    "tr": {"valign", "bgcolor", "height"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "hr": {"width", "size", "noshade"},
    "details": {"open"},
}
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
INLINE_DATA = re.compile(r"data:image/(?:png|gif|jpeg|jpg|webp);base64,[a-z0-9+/=\s]*", re.I)
LINK_REL = "noopener noreferrer nofollow"
URL_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def url_scheme(value: str) -> str:
    """The scheme a browser would see: tabs, newlines and controls removed, lowercased."""
    cleaned = URL_CONTROL.sub("", value)
    scheme, colon, _ = cleaned.partition(":")
    return scheme.lower() if colon and re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme, re.I) else ""


# An inline SVG is drawing plus code (scripts, animations that set links and handlers): it
# never reaches the page. The words it shows (its <text> elements) do, as a plain span. The
# span is escaped text, and the whole body still goes through nh3 after this.
#
# One SVG from its start tag to the first end tag, never across another <svg start: an
# unclosed or nested one is left to nh3, which drops it whole (as it did every SVG before).
SVG_ELEMENT = re.compile(r"<svg(?=[\s/>])(?:[^>]*/>|(?:(?!<svg[\s/>]).)*?</svg\s*>)", re.I | re.S)
SVG_TEXT = re.compile(r"<text\b[^>]*>(.*?)</text\s*>", re.I | re.S)
CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)


def svg_words(svg: str) -> str:
    """The text an SVG shows, tags removed, entities and CDATA read, spaces collapsed."""
    pieces = []
    for inner in SVG_TEXT.findall(svg):
        inner = CDATA.sub(lambda match: html.escape(match.group(1)), inner)
        pieces.append(html.unescape(re.sub(r"<[^>]*>", " ", inner)))
    return " ".join(" ".join(pieces).split())


def svg_as_text(html_text: str) -> str:
    """Every inline SVG replaced by a span holding its text (or by nothing)."""

    def replace(match: re.Match[str]) -> str:
        words = svg_words(match.group(0))
        return f"<span>{html.escape(words, quote=False)}</span>" if words else ""

    return SVG_ELEMENT.sub(replace, html_text) if "<svg" in html_text.lower() else html_text


class BodyFilter:
    """nh3's attribute filter for one body; remembers whether it blocked a remote image."""

    def __init__(self, *, allow_remote_images: bool, inline_images: dict[str, str]) -> None:
        self.allow_remote = allow_remote_images
        self.inline = {normalize_cid(cid): url for cid, url in inline_images.items()}
        self.app_urls = frozenset(self.inline.values())
        self.remote_blocked = False

    def __call__(self, tag: str, attribute: str, value: str) -> str | None:
        """Return the value to keep, a rewritten one, or None to drop the attribute."""
        if attribute == "style":
            return safe_style(value)
        if tag == "a" and attribute == "href":
            return value if url_scheme(value) in LINK_SCHEMES else None
        if tag == "img" and attribute == "src":
            return self.image_source(value)
        return value

    def image_source(self, value: str) -> str | None:
        """cid: becomes the attachment's app URL; data: only for raster images; http(s) gated."""
        scheme = url_scheme(value)
        if scheme == "cid":
            return self.inline.get(normalize_cid(value.strip()[4:]))
        if scheme == "data":
            return value if INLINE_DATA.fullmatch(value.strip()) else None
        if scheme in ("http", "https"):
            self.remote_blocked = self.remote_blocked or not self.allow_remote
            return value if self.allow_remote else None
        return None

    def relative(self, url: str) -> str | None:
        """Relative URLs from the email are dropped; only our own inline-image URLs pass."""
        return url if url in self.app_urls else None


def clean_piece(html_text: str, body_filter: BodyFilter) -> str:
    """One HTML part through the allow-list, then its light text made readable."""
    relative: Callable[[str], str | None] = body_filter.relative
    cleaned = nh3.clean(
        svg_as_text(html_text),
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=body_filter,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(LINK_SCHEMES | {"cid", "data"}),
        url_relative=relative,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=set(STYLE_PROPERTIES),
    )
    return readable_colours(cleaned)


def clean(
    html_text: str, *, allow_remote_images: bool, inline_images: dict[str, str] | None = None
) -> tuple[str, bool]:
    """Sanitize an HTML body, each of its parts on its own (see PART_BREAK); also say
    whether a remote image was blocked."""
    body_filter = BodyFilter(
        allow_remote_images=allow_remote_images, inline_images=inline_images or {}
    )
    pieces = html_text.split(PART_BREAK)
    return "".join(clean_piece(piece, body_filter) for piece in pieces), body_filter.remote_blocked


def sanitize_html(
    html_text: str, *, allow_remote_images: bool, inline_images: dict[str, str] | None = None
) -> str:
    """The allow-listed HTML of an email body, ready for the sandboxed iframe."""
    return clean(html_text, allow_remote_images=allow_remote_images, inline_images=inline_images)[0]


def has_remote_images(html_text: str) -> bool:
    """True when the body shows http(s) images that are blocked until the reader allows them."""
    return clean(html_text, allow_remote_images=False)[1]


URL_IN_TEXT = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"']+", re.I)
TRAILING = ".,;:!?)]}>'\""
ATTRIBUTION = re.compile(r"^\s*(?:On\s.+\swrote|Em\s.+\sescreveu)\s*:\s*$", re.I | re.S)
ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Mensagem original|Mensaje original)\s*-{2,}\s*$", re.I
)
HEADER_FROM = re.compile(r"^\s*\*?(?:From|De)\s*:\*?\s+\S", re.I)
HEADER_SENT = re.compile(r"^\s*\*?(?:Sent|Date|Enviado|Enviada em|Enviada|Data)\s*:", re.I)
HEADER_SUBJECT = re.compile(r"^\s*\*?(?:Subject|Assunto)\s*:", re.I)


def link_text(line: str) -> str:
    """Escape one line and turn its http(s) and mailto addresses into links."""
    out, position = [], 0
    for match in URL_IN_TEXT.finditer(line):
        url = match.group(0)
        while (
            url
            and url[-1] in TRAILING
            and not (url[-1] == ")" and url.count(")") <= url.count("("))
        ):
            url = url[:-1]
        out.append(html.escape(line[position : match.start()]))
        href = html.escape(url, quote=True)
        out.append(f'<a href="{href}" target="_blank" rel="{LINK_REL}">{href}</a>')
        position = match.start() + len(url)
    out.append(html.escape(line[position:]))
    return "".join(out)


def is_attribution(lines: list[str], index: int) -> bool:
    """A reply attribution ("On ... wrote:", "Em ... escreveu:"), even wrapped in two lines."""
    if ATTRIBUTION.match(lines[index]):
        return True
    wrapped = " ".join(lines[index : index + 2])
    return bool(re.match(r"\s*(On|Em)\s", lines[index]) and ATTRIBUTION.match(wrapped))


def is_header_block(lines: list[str], index: int) -> bool:
    """Outlook's quoted header: "De:"/"From:", then a sent date and a subject line."""
    following = lines[index + 1 : index + 6]
    return bool(
        HEADER_FROM.match(lines[index])
        and any(HEADER_SENT.match(line) for line in following)
        and any(HEADER_SUBJECT.match(line) for line in following)
    )


def history_start(lines: list[str]) -> int | None:
    """Where the quoted history begins: a reply attribution or an Outlook header block."""
    for index, line in enumerate(lines):
        if is_attribution(lines, index) or ORIGINAL.match(line):
            return index
        if is_header_block(lines, index):
            separator = index > 0 and re.fullmatch(r"\s*_{8,}\s*", lines[index - 1])
            return index - 1 if separator else index
    return None


def collapsed(lines: list[str], summary: str) -> str:
    """Lines hidden behind a <details> toggle."""
    inner = "\n".join(link_text(line) for line in lines)
    return f'<details class="quoted"><summary>{html.escape(summary)}</summary>{inner}</details>'


def is_quoted(line: str) -> bool:
    """A line quoted with ">" (any depth)."""
    return line.lstrip().startswith(">")


def fresh_part(lines: list[str], summary: str) -> str:
    """The new text, each run of ">" quoted lines collapsed on its own."""
    pieces = []
    for quoted, group in itertools.groupby(lines, key=is_quoted):
        run = list(group)
        pieces.append(collapsed(run, summary) if quoted else "\n".join(map(link_text, run)))
    return "".join(pieces)


def text_to_html(text: str, *, summary: str = "…") -> str:
    """A plain-text body as escaped HTML: links clickable, quoted history collapsed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = history_start(lines)
    fresh, old = (lines, []) if start is None else (lines[:start], lines[start:])
    parts = fresh_part(fresh, summary)
    if old:
        parts = parts.rstrip("\n") + collapsed(old, summary)
    return f'<div class="plain">{parts}</div>'


DOCUMENT_STYLE = """
html{color-scheme:light}
body{margin:0;padding:12px 16px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff;overflow-wrap:anywhere}
img{max-width:100%;height:auto}
table{max-width:100%}
pre,code{white-space:pre-wrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #d0d7de;color:#57606a}
a{color:#0969da}
.plain{white-space:pre-wrap}
details.quoted{color:#57606a}
details.quoted summary{cursor:pointer;display:inline-block;padding:0 .4em;margin:.3em 0;
border:1px solid #d0d7de;border-radius:4px;font-size:13px;white-space:normal}
"""


def body_document(inner_html: str) -> str:
    """The iframe's whole document: our small stylesheet around an already safe body.

    No <base>: `<base target=_blank>` would be harmless, but the sanitizer already puts
    target=_blank on every link, and the CSP says base-uri 'none' so no base element
    (ours or a smuggled one) can redirect relative URLs.
    """
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{DOCUMENT_STYLE.strip()}</style></head><body>{inner_html}</body></html>"
    )
