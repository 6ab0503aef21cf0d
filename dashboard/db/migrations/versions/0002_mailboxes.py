"""mailboxes, sync settings, aliases, audit log

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# jsonb on PostgreSQL (binary, indexable); plain JSON text on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditevent_at"), ["at"], unique=False)

    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("imap_host", sa.String(), nullable=False),
        sa.Column("imap_port", sa.Integer(), nullable=False),
        sa.Column("imap_security", sa.String(), nullable=False),
        sa.Column("smtp_host", sa.String(), nullable=True),
        sa.Column("smtp_port", sa.Integer(), nullable=True),
        sa.Column("smtp_security", sa.String(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("sent_folder", sa.String(), nullable=True),
        sa.Column("sent_found_by", sa.String(), nullable=True),
        sa.Column("folders", JSON, nullable=False),
        sa.Column("available_folders", JSON, nullable=False),
        sa.Column("capabilities", JSON, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("last_error_code", sa.String(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailbox_address"), ["address"], unique=False)

    op.create_table(
        "useraddress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )
    with op.batch_alter_table("useraddress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_useraddress_user_id"), ["user_id"], unique=False)

    op.create_table(
        "mailboxevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mailboxevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailboxevent_user_id"), ["user_id"], unique=False)

    # Existing companies get the documented defaults.
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("skip_internal", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("visibility", sa.String(), nullable=False, server_default="all")
        )
        batch_op.add_column(sa.Column("never_log", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("auto_create", sa.String(), nullable=False, server_default="sent")
        )
        batch_op.add_column(
            sa.Column("import_days", sa.Integer(), nullable=False, server_default="30")
        )
        batch_op.add_column(
            sa.Column("interval_minutes", sa.Integer(), nullable=False, server_default="5")
        )


def downgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("interval_minutes")
        batch_op.drop_column("import_days")
        batch_op.drop_column("auto_create")
        batch_op.drop_column("never_log")
        batch_op.drop_column("visibility")
        batch_op.drop_column("skip_internal")

    with op.batch_alter_table("mailboxevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxevent_user_id"))

    op.drop_table("mailboxevent")
    with op.batch_alter_table("useraddress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_useraddress_user_id"))

    op.drop_table("useraddress")
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailbox_address"))

    op.drop_table("mailbox")
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_at"))

    op.drop_table("auditevent")
