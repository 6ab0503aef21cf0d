"""company.allow_local_servers: mail servers on this machine or the local network

Revision ID: 0012
Revises: 0009

Mailbox settings may name loopback or private addresses only when an admin allows it
(dashboard/mail/targets.py). Existing companies start with it off, as new ones: a mailbox on
such an address then stops with "local_address", whose explanation sends an admin to the
setting; nothing else changes and nothing is lost.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allow_local_servers", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("allow_local_servers")
