"""OAuth mailboxes (Google, Microsoft 365): mailbox.auth, its access token, and oauthapp

Revision ID: 0016
Revises: 0014

1. mailbox.auth: how a mailbox logs in. Every existing mailbox logs in with its app
   password, so the column starts as "password" for all of them; `secret` keeps its meaning.
2. mailbox.access_token / access_expires_at: the encrypted OAuth access token and its expiry
   (NULL for password mailboxes).
3. oauthapp: the client id and encrypted client secret an admin registered per provider.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox") as batch_op:
        batch_op.add_column(
            sa.Column("auth", sa.String(), nullable=False, server_default="password")
        )
        batch_op.add_column(sa.Column("access_token", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("access_expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "oauthapp",
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )


def downgrade() -> None:
    op.drop_table("oauthapp")
    with op.batch_alter_table("mailbox") as batch_op:
        batch_op.drop_column("access_expires_at")
        batch_op.drop_column("access_token")
        batch_op.drop_column("auth")
