"""Full-text and name/address search on PostgreSQL: the statements that stand in for
SQLite's FTS5 tables (email_fts, lead_trgm, lead_words).

Every expression here is the exact expression of an index made by the migrations (0004,
0006, 0009), so PostgreSQL answers from the GIN index:
- email text: `to_tsvector('leadsync_pt', ...)`, Portuguese stemming with accents folded
  (unaccent), one index on the subject and one on subject and body;
- a piece of 3+ characters anywhere in a lead's name, company or address: pg_trgm's index
  answers `search_text LIKE '%piece%'`;
- a shorter piece as the start of a word: a 'simple' tsvector of the search text's words
  with prefix queries ('ab':*).
User text only ever arrives as bound parameters.
"""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, text

# The indexed expressions (keep them identical to the migrations' CREATE INDEX).
EMAIL_VECTORS = {
    ("subject",): "to_tsvector('leadsync_pt'::regconfig, subject)",
    ("subject", "body_text"): (
        "to_tsvector('leadsync_pt'::regconfig, subject || ' ' || left(body_text, 200000))"
    ),
}
LEAD_WORDS = (
    "to_tsvector('simple'::regconfig, regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g'))"
)


def ts_prefix_query(words: list[str]) -> str:
    """A tsquery matching every word as a prefix. Words are quoted lexemes, so nothing typed
    is read as tsquery syntax."""
    return " & ".join("'" + word.replace("'", "''").replace("\\", "\\\\") + "':*" for word in words)


def like_anywhere(piece: str) -> str:
    """A LIKE pattern finding `piece` anywhere, its own % and _ taken literally."""
    escaped = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def email_ids(words: list[str], columns: tuple[str, ...]) -> TextClause:
    """Ids of the emails whose `columns` contain every word (as a word prefix, stemmed)."""
    vector = EMAIL_VECTORS[("subject",) if columns == ("subject",) else ("subject", "body_text")]
    return text(
        # Only the fixed index expressions above are formatted in, never user text.
        f"SELECT id FROM email WHERE {vector} @@ to_tsquery('leadsync_pt'::regconfig, :m)"  # noqa: S608
    ).bindparams(bindparam("m", ts_prefix_query(words), unique=True))


def lead_substring_ids(pieces: list[str]) -> TextClause:
    """Ids of the leads whose search text contains every piece (3+ characters each). One LIKE
    per piece: the trigram index answers `LIKE`, not `LIKE ALL (array)`."""
    likes = " AND ".join(f"search_text LIKE :m{n}" for n in range(len(pieces)))
    return text(f"SELECT id FROM lead WHERE {likes}").bindparams(  # noqa: S608 - names only
        *(bindparam(f"m{n}", like_anywhere(p), unique=True) for n, p in enumerate(pieces))
    )


def lead_prefix_ids(words: list[str]) -> TextClause:
    """Ids of the leads with a word starting with each of `words` in their search text."""
    return text(
        f"SELECT id FROM lead WHERE {LEAD_WORDS} @@ to_tsquery('simple'::regconfig, :m)"  # noqa: S608
    ).bindparams(bindparam("m", ts_prefix_query(words), unique=True))
