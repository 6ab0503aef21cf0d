"""Helpers for the lead page tests: read the list and timeline HTML, count SQL statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask.testing import FlaskClient
from sqlalchemy import Engine, event

ENGLISH = {"LANGUAGES": ("en", "pt_BR")}  # English by default; pt_BR is being translated
HTMX = {"HX-Request": "true"}
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # BABEL_DEFAULT_TIMEZONE of the app


class Cells(HTMLParser):
    """Text of each <td> of each <tr> inside <tbody>, and the lead id each row links to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({"cells": [], "id": None})
        elif self._in_body and tag == "td":
            self._cell = []
        elif self._in_body and tag == "a" and self.rows and self.rows[-1]["id"] is None:
            found = re.fullmatch(r"/leads/(\d+)", dict(attrs).get("href") or "")
            self.rows[-1]["id"] = int(found.group(1)) if found else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[dict]:
    """The lead list's rows: {"id": lead id, "cells": [name, email, company, ...]}."""
    parser = Cells()
    parser.feed(html)
    return parser.rows


def listed_ids(html: str) -> list[int]:
    """Lead ids of the list's rows, in order."""
    return [row["id"] for row in table_rows(html)]


def next_link(html: str) -> str | None:
    """The "Next page" URL of a list page (the link carrying the keyset cursor), or None."""
    found = re.search(r'href="(/leads/\?[^"]*after=[^"]*)"', html)
    return unescape(found.group(1)) if found else None


def thread_subjects(html: str) -> list[str]:
    """The visible subjects of the timeline's threads, in order."""
    spans = re.findall(r'<span class="thread-subject">(.*?)</span>\s*<span', html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", s)).strip() for s in spans]


def thread_keys(html: str) -> list[str]:
    """The thread keys the timeline's "expand" buttons ask for, in order."""
    urls = re.findall(r'hx-get="(/leads/\d+/threads\?key=[^"]+)"', html)
    return [parse_qs(urlsplit(unescape(url)).query)["key"][0] for url in urls]


def text_of(html: str) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def shown(when: datetime, form: str = "short") -> str:
    """A date as the app shows it to an English viewer in the default time zone.

    Whitespace is collapsed (Babel puts a narrow no-break space before AM/PM), so compare
    it with `text_of` or table cells, never with raw HTML.
    """
    # "message" is the app's own format for an email's date: the medium date, to the minute.
    pattern = "MMM d, y, h:mm a" if form == "message" else form
    return " ".join(format_datetime(when, pattern, tzinfo=SAO_PAULO, locale="en").split())


def page(client: FlaskClient, url: str, **kwargs: object) -> str:
    """GET a page that must answer 200, and return its HTML."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code, response.data[:500])
    return response.get_data(as_text=True)


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine runs inside the block."""
    statements: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
