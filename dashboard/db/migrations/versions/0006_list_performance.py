"""lead list performance: sighting (email_id, mailbox_id), trigram index of lead.search_text

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRIGRAM_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS lead_trgm USING fts5(search_text, content='lead', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS lead_trgm_ai AFTER INSERT ON lead BEGIN "
    "INSERT INTO lead_trgm(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS lead_trgm_ad AFTER DELETE ON lead BEGIN "
    "INSERT INTO lead_trgm(lead_trgm, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS lead_trgm_au AFTER UPDATE OF search_text ON lead BEGIN "
    "INSERT INTO lead_trgm(lead_trgm, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO lead_trgm(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO lead_trgm(lead_trgm) VALUES ('rebuild')",
)

# PostgreSQL: pg_trgm's GIN index answers `search_text LIKE '%piece%'`.
PG_TRIGRAM_SQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_lead_search_trgm ON lead USING gin (search_text gin_trgm_ops)",
)


def upgrade() -> None:
    # "Which of these emails did the viewer's mailbox see?" (timeline.own_email_ids, search):
    # with only (email_id) and (mailbox_id, folder, ...) indexes, SQLite picks the mailbox one
    # for an IN list of email ids and reads every sighting of the mailbox (12 ms at 300k).
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_sighting_email_mailbox ON sighting (email_id, mailbox_id)"
    )
    op.execute("DROP INDEX IF EXISTS ix_sighting_email_id")  # a prefix of the new one
    for statement in PG_TRIGRAM_SQL if op.get_bind().dialect.name == "postgresql" else TRIGRAM_SQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_lead_search_trgm")
    else:
        for name in ("lead_trgm_ai", "lead_trgm_ad", "lead_trgm_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS lead_trgm")
    op.execute("CREATE INDEX IF NOT EXISTS ix_sighting_email_id ON sighting (email_id)")
    op.execute("DROP INDEX IF EXISTS ix_sighting_email_mailbox")
