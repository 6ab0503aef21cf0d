"""Small text rules shared by search and storage (pure)."""

from __future__ import annotations

import re
import unicodedata

TOKEN = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase without accents: "Sincronização" -> "sincronizacao"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def fts_query(text: str, *, column: str | None = None, limit: int = 8) -> str | None:
    """An FTS5 query matching every word of `text` as a prefix; None when no word.

    Words are quoted, so user input can never be read as FTS5 syntax.
    """
    words = TOKEN.findall(fold(text))[:limit]
    if not words:
        return None
    query = " ".join(f'"{w}"*' for w in words)
    return f"{column} : ({query})" if column else query


def lead_search_text(name: str, company: str, addresses: list[str]) -> str:
    """What the lead list's search box looks through, folded once at write time."""
    return fold(" ".join([name or "", company or "", *addresses]))
