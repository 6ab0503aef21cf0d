"""Small text rules shared by search and storage (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dashboard.sync.search_text import fold, lead_search_text

TOKEN = re.compile(r"\w+", re.UNICODE)
WORD = re.compile(r"[^\W_]+", re.UNICODE)  # what FTS5's unicode61 tokenizer keeps as a word
# From this many characters a piece of the query is looked for anywhere (trigram index) and
# email text is searched; a shorter piece is the start of a word (search-as-you-type's first
# keystrokes), looked up in the lead fields only: a 1-2 letter prefix matches most emails.
SUBSTRING_FROM = 3


def fts_query(
    text: str, *, column: str | None = None, limit: int = 8, min_length: int = 1
) -> str | None:
    """An FTS5 query matching every word of `text` (of `min_length` characters or more) as a
    prefix; None when no word.

    Words are quoted, so user input can never be read as FTS5 syntax.
    """
    words = query_words(text, limit=limit, min_length=min_length)
    if not words:
        return None
    query = " ".join(f'"{w}"*' for w in words)
    return f"{column} : ({query})" if column else query


def query_words(text: str, *, limit: int = 8, min_length: int = 1) -> list[str]:
    """The words of `text` (folded) that a full-text search looks for, in order."""
    return [w for w in TOKEN.findall(fold(text)) if len(w) >= min_length][:limit]


def phrase(text: str) -> str:
    """An FTS5 string: user text never read as syntax."""
    return '"' + text.replace('"', '""') + '"'


@dataclass(frozen=True)
class FieldQuery:
    """How the lead fields (search text) are matched: every piece of the query must match."""

    substrings: str | None  # FTS5 trigram query: pieces of 3+ characters, anywhere
    prefixes: str | None  # FTS5 word query: shorter pieces, as the start of a word
    pieces: tuple[str, ...] = ()  # the 3+ character pieces themselves (PostgreSQL)
    words: tuple[str, ...] = ()  # the words of the shorter pieces (PostgreSQL)


def field_query(text: str, *, limit: int = 8) -> FieldQuery | None:
    """The lead-field query for what was typed (pieces split on spaces, folded); None when
    nothing in it can match (only punctuation in a short piece, or nothing typed)."""
    pieces = fold(text).split()[:limit]
    long = [p for p in pieces if len(p) >= SUBSTRING_FROM]
    short = [w for p in pieces if len(p) < SUBSTRING_FROM for w in WORD.findall(p)]
    if not long and not short:
        return None
    return FieldQuery(
        " ".join(phrase(p) for p in long) or None,
        " ".join(f"{phrase(w)}*" for w in short) or None,
        tuple(long),
        tuple(short),
    )


__all__ = [
    "SUBSTRING_FROM", "TOKEN", "FieldQuery", "field_query", "fold", "fts_query",
    "lead_search_text", "phrase", "query_words",
]  # fmt: skip
