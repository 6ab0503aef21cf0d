"""IMAP IDLE: company.idle_connections and mailbox.idle_since

Revision ID: 0015
Revises: 0014

1. company.idle_connections: how many IDLE connections the sync process keeps open at most;
   existing companies get 50, the default.
2. mailbox.idle_since: when the sync process last opened an IDLE on the mailbox's INBOX
   (NULL: it waits for the interval round, as every existing mailbox did).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "company",
        sa.Column("idle_connections", sa.Integer(), nullable=False, server_default="50"),
    )
    op.add_column("mailbox", sa.Column("idle_since", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox") as batch_op:
        batch_op.drop_column("idle_since")
    with op.batch_alter_table("company") as batch_op:
        batch_op.drop_column("idle_connections")
