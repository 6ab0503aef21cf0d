"""An email's body as stored: its parts joined into one text and one HTML body, and the
visible text of HTML (for search).

Pure: standard library only.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from dashboard.mail.mime import Part

# Between the HTML parts of one body, as stored: the sanitizer cleans each part on its own
# (an unclosed tag or comment in one part must not swallow the next), and the search text
# is read part by part. A message may contain this text itself: it only splits its own
# HTML into pieces that are each still sanitized.
PART_BREAK = "\n<!--leadsync:part-->\n"


def join_text(pieces: list[str]) -> str:
    """The text body of several text/plain parts: one blank line between them."""
    if len(pieces) == 1:
        return pieces[0]
    return "\n\n".join(piece.strip("\n") for piece in pieces if piece.strip())


def html_piece(part: Part, decoded: str) -> str:
    """One part of an HTML body: HTML as it is, plain text escaped and kept in its lines."""
    if part.content_type == "text/html":
        return decoded
    return f'<div style="white-space:pre-wrap">{html.escape(decoded, quote=False)}</div>'


def join_html(pieces: list[tuple[Part, str]]) -> str:
    """The HTML body of the parts shown as HTML, in order, separated by PART_BREAK."""
    return PART_BREAK.join(html_piece(part, decoded) for part, decoded in pieces)


BLOCK_TAGS = frozenset(
    ("address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figure",
     "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
     "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul")
)  # fmt: skip
SKIP_TAGS = frozenset(("script", "style", "title", "template"))


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML document, breaking lines at block elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Enter a skipped element, or break the line at <br> and before a block."""
        if tag in SKIP_TAGS:
            self.skipping += 1
        elif tag == "body":
            self.skipping = 0  # an unclosed <title> or <style> must not hide the whole body
        elif tag == "br" or tag in BLOCK_TAGS:
            self.chunks.append("\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        """Leave a skipped element, or break the line after a block."""
        if tag in SKIP_TAGS:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        """Keep text outside skipped elements."""
        if not self.skipping:
            self.chunks.append(data)


def html_to_text(body: str) -> str:
    """Return the visible text of an HTML body for search indexing (stdlib html.parser)."""
    if PART_BREAK in body:
        return "\n\n".join(filter(None, map(html_to_text, body.split(PART_BREAK))))
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.chunks).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
