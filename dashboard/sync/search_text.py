"""The text a lead is searched by (pure): its name, company and addresses, folded once at
write time. Here, below both the sync's store and the lead pages, so every writer of a lead
uses the same rule (sync/store/leads.refresh_search_text applies it)."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lowercase without accents: "Sincronização" -> "sincronizacao"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def lead_search_text(name: str, company: str, addresses: list[str]) -> str:
    """What the lead list's search box looks through: name, company and every address whole
    (its local part and its domain are substrings of it, and words of it for prefixes)."""
    return fold(" ".join([name or "", company or "", *addresses]))
