"""never-log notes: why an entry is on the company's never-log list (an erasure, LGPD)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing entries get no note: every one of them was typed by an admin.
    op.create_table(
        "neverlognote",
        sa.Column("entry", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry"),
    )


def downgrade() -> None:
    # The entries stay on the list; only the notes saying why go.
    op.drop_table("neverlognote")
