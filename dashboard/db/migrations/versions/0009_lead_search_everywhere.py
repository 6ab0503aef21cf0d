"""lead search finds every lead: search text backfilled, word-prefix index `lead_words`

Revision ID: 0009
Revises: 0008

1. lead.search_text (name, company and addresses, lowercased and accent-folded) is
   recomputed for every lead. Until now only the lead form wrote it: leads the sync created
   had none and were found only through words of their emails.
2. lead_words: an FTS5 index of the same text split into words, with a prefix index of 1
   and 2 characters, kept by triggers like lead_trgm (0006). It answers the first one or two
   letters typed (words starting with them) without reading every lead; lead_trgm answers
   substrings from the third.

Downgrade drops lead_words; the search texts stay (they are right at 0008 too).
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WORDS_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS lead_words USING fts5(search_text, content='lead', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='1 2')",
    "CREATE TRIGGER IF NOT EXISTS lead_words_ai AFTER INSERT ON lead BEGIN "
    "INSERT INTO lead_words(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS lead_words_ad AFTER DELETE ON lead BEGIN "
    "INSERT INTO lead_words(lead_words, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS lead_words_au AFTER UPDATE OF search_text ON lead BEGIN "
    "INSERT INTO lead_words(lead_words, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO lead_words(rowid, search_text) VALUES (new.id, new.search_text); END",
)

# PostgreSQL: the words of the search text (split on anything not a letter or digit, as
# FTS5's unicode61 does, so an address gives its parts) in a GIN index that answers
# prefix queries ('ab':*).
PG_WORDS_SQL = (
    "CREATE INDEX IF NOT EXISTS ix_lead_search_words ON lead USING gin "
    "(to_tsvector('simple'::regconfig, regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g')))",
)


def fold(text: str) -> str:
    """Lowercase without accents (the app's search-text rule, frozen with this revision)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def backfill_search_text(bind) -> None:  # type: ignore[no-untyped-def]
    """Every lead's search text from its name, company and addresses (oldest first)."""
    addresses: dict[int, list[str]] = {}
    for lead_id, address in bind.exec_driver_sql(
        "SELECT lead_id, address FROM leadaddress ORDER BY id"
    ):
        addresses.setdefault(lead_id, []).append(address)
    changed = []
    for lead_id, name, company, current in bind.exec_driver_sql(
        "SELECT id, name, company_name, search_text FROM lead"
    ):
        wanted = fold(" ".join([name or "", company or "", *addresses.get(lead_id, [])]))
        if wanted != current:
            changed.append((wanted, lead_id))
    if bind.dialect.name == "postgresql":  # no triggers to switch off there
        for row in changed:
            bind.execute(
                sa.text("UPDATE lead SET search_text = :text WHERE id = :id"),
                {"text": row[0], "id": row[1]},
            )
        return
    # Written with lead_trgm's trigger off and the index rebuilt once after: for 20,000
    # leads 2 s in all, against 8 s through the trigger (a delete and an insert per row).
    bind.exec_driver_sql("DROP TRIGGER IF EXISTS lead_trgm_au")
    if changed:
        bind.exec_driver_sql("UPDATE lead SET search_text = ? WHERE id = ?", changed)
    bind.exec_driver_sql(
        "CREATE TRIGGER IF NOT EXISTS lead_trgm_au AFTER UPDATE OF search_text ON lead BEGIN "
        "INSERT INTO lead_trgm(lead_trgm, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); "
        "INSERT INTO lead_trgm(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    bind.exec_driver_sql("INSERT INTO lead_trgm(lead_trgm) VALUES ('rebuild')")


def upgrade() -> None:
    bind = op.get_bind()
    backfill_search_text(bind)
    if bind.dialect.name == "postgresql":
        for statement in PG_WORDS_SQL:
            bind.exec_driver_sql(statement)
        return
    for statement in WORDS_SQL:
        bind.exec_driver_sql(statement)
    bind.exec_driver_sql("INSERT INTO lead_words(lead_words) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_lead_search_words")
        return
    for name in ("lead_words_ai", "lead_words_ad", "lead_words_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS lead_words")
