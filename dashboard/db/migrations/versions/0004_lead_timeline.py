"""lead timeline: lead summaries, private threads, dismissed suggestions, full-text search

Revision ID: 0004
Revises: 0003
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


FTS_SQL = (
    "CREATE VIRTUAL TABLE email_fts USING fts5(subject, body_text, content='email', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER email_fts_ai AFTER INSERT ON email BEGIN "
    "INSERT INTO email_fts(rowid, subject, body_text) VALUES (new.id, new.subject, new.body_text);"
    " END",
    "CREATE TRIGGER email_fts_ad AFTER DELETE ON email BEGIN "
    "INSERT INTO email_fts(email_fts, rowid, subject, body_text) "
    "VALUES ('delete', old.id, old.subject, old.body_text); END",
    "CREATE TRIGGER email_fts_au AFTER UPDATE OF subject, body_text ON email BEGIN "
    "INSERT INTO email_fts(email_fts, rowid, subject, body_text) "
    "VALUES ('delete', old.id, old.subject, old.body_text); "
    "INSERT INTO email_fts(rowid, subject, body_text) VALUES (new.id, new.subject, new.body_text);"
    " END",
    "INSERT INTO email_fts(email_fts) VALUES ('rebuild')",
)

# PostgreSQL: tsvector expressions with GIN indexes, in a Portuguese configuration that folds
# accents (unaccent) before stemming. No triggers: the index follows the rows by itself.
# `left(...)`: a tsvector holds at most 1 MB, and a huge body must not refuse its email.
PG_FTS_SQL = (
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION leadsync_pt (COPY = pg_catalog.portuguese)",
    "ALTER TEXT SEARCH CONFIGURATION leadsync_pt "
    "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, portuguese_stem",
    "CREATE INDEX ix_email_fts_subject ON email "
    "USING gin (to_tsvector('leadsync_pt'::regconfig, subject))",
    "CREATE INDEX ix_email_fts_text ON email "
    "USING gin (to_tsvector('leadsync_pt'::regconfig, subject || ' ' || left(body_text, 200000)))",
)

LEAD_STATS_SQL = """
UPDATE lead SET
  email_count = (SELECT count(*) FROM emaillead el WHERE el.lead_id = lead.id),
  first_contact_at = (SELECT min(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                      WHERE el.lead_id = lead.id),
  last_contact_at = (SELECT max(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                     WHERE el.lead_id = lead.id),
  last_direction = (SELECT e.direction FROM email e JOIN emaillead el ON el.email_id = e.id
                    WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1),
  last_contact_user_id = (SELECT e.user_id FROM email e JOIN emaillead el ON el.email_id = e.id
                          WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1)
"""


def fold(text: str) -> str:
    """Lowercase without accents (a copy of the app's rule, frozen with this migration)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def backfill_leads(bind) -> None:  # type: ignore[no-untyped-def]
    """Summaries and search text for the leads that sync created before this revision."""
    bind.exec_driver_sql(LEAD_STATS_SQL)
    addresses: dict[int, list[str]] = {}
    for lead_id, address in bind.exec_driver_sql("SELECT lead_id, address FROM leadaddress"):
        addresses.setdefault(lead_id, []).append(address)
    rows = bind.exec_driver_sql("SELECT id, name, company_name FROM lead").fetchall()
    for lead_id, name, company in rows:
        text = fold(" ".join([name or "", company or "", *addresses.get(lead_id, [])]))
        bind.exec_driver_sql("UPDATE lead SET search_text = ? WHERE id = ?", (text, lead_id))


def upgrade() -> None:
    op.create_table(
        "dismissedaddress",
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "privatethread",
        sa.Column("thread_key", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("thread_key"),
    )
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stale_days", sa.Integer(), nullable=False, server_default="3")
        )

    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_direction", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("last_contact_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("search_text", sa.String(), nullable=False, server_default="")
        )
        batch_op.create_index("ix_lead_created", ["state", "created_at"], unique=False)
        batch_op.create_index("ix_lead_last_contact", ["state", "last_contact_at"], unique=False)
        batch_op.create_index("ix_lead_name", ["state", "name"], unique=False)
        batch_op.create_index(
            "ix_lead_owner_last_contact", ["owner_id", "last_contact_at"], unique=False
        )

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(), nullable=False, server_default=""))

    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.create_index("ix_email_in_reply_to", ["in_reply_to"], unique=False)

    # Full-text search over subject and body, accents folded ("sincronizacao" finds
    # "sincronização"). External content: the index stores no second copy of the text.
    for statement in PG_FTS_SQL if op.get_bind().dialect.name == "postgresql" else FTS_SQL:
        op.execute(statement)
    backfill_leads(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.drop_index("ix_email_in_reply_to")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_email_fts_subject")
        op.execute("DROP INDEX IF EXISTS ix_email_fts_text")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS leadsync_pt")
    else:
        for name in ("email_fts_ai", "email_fts_ad", "email_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS email_fts")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("signature")

    with op.batch_alter_table("lead", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_index("ix_lead_owner_last_contact")
        batch_op.drop_index("ix_lead_name")
        batch_op.drop_index("ix_lead_last_contact")
        batch_op.drop_index("ix_lead_created")
        batch_op.drop_column("search_text")
        batch_op.drop_column("last_contact_user_id")
        batch_op.drop_column("last_direction")
        batch_op.drop_column("last_contact_at")
        batch_op.drop_column("first_contact_at")
        batch_op.drop_column("email_count")

    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("stale_days")

    op.drop_table("privatethread")
    op.drop_table("dismissedaddress")
