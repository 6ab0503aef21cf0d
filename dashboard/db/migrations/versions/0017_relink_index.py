"""relink index: the skips a new lead claims are found without walking the folder's ledger

Revision ID: 0017
Revises: 0014

Every sync round asks, per folder, for the "no lead" skips flagged for relinking. SQLite
answered through ix_skipped_place (mailbox, folder, UIDVALIDITY, UID), reading every skip of
the folder to test `relink`: ~17,000 rows at 50,000 messages, ~25 ms of a no-change round.
ix_skipped_relink leads with `relink`, so the planner goes straight to the flagged rows (as
a rule none). It replaces the single-column index on `relink`, which it covers.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_skipped_relink", "skippedmessage", ["relink", "mailbox_id", "folder", "uidvalidity"]
    )
    op.drop_index("ix_skippedmessage_relink", table_name="skippedmessage")


def downgrade() -> None:
    op.create_index("ix_skippedmessage_relink", "skippedmessage", ["relink"])
    op.drop_index("ix_skipped_relink", table_name="skippedmessage")
