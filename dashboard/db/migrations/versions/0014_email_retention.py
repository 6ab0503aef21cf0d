"""email retention: company.retention_months, and the indexes a purge of old emails needs

Revision ID: 0014
Revises: 0013

1. company.retention_months: emails older than this many months are purged every day;
   NULL (every existing company) keeps everything, as before.
2. Indexes on the columns that point at an email or a smart email without one:
   notification.email_id, notification.outgoing_id and outgoingemail.email_id. Deleting an
   email makes SQLite find the rows that reference it (ON DELETE CASCADE / SET NULL); without
   an index that is a full scan of those tables for every email deleted.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_notification_email_id", "notification", "email_id"),
    ("ix_notification_outgoing_id", "notification", "outgoing_id"),
    ("ix_outgoingemail_email_id", "outgoingemail", "email_id"),
)


def upgrade() -> None:
    op.add_column("company", sa.Column("retention_months", sa.Integer(), nullable=True))
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("company") as batch_op:
        batch_op.drop_column("retention_months")
