"""sync engine: leads, emails, sightings, cursors, skip ledger, runs, leases

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# jsonb on PostgreSQL (binary, indexable); plain JSON text on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("synthetic_id", sa.Boolean(), nullable=False),
        sa.Column("thread_key", sa.String(), nullable=False),
        sa.Column("gm_msgid", sa.Integer(), nullable=True),
        sa.Column("gm_thrid", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_name", sa.String(), nullable=False),
        sa.Column("to_addrs", JSON, nullable=False),
        sa.Column("cc_addrs", JSON, nullable=False),
        sa.Column("bcc_addrs", JSON, nullable=False),
        sa.Column("in_reply_to", sa.String(), nullable=True),
        sa.Column("references", JSON, nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("body_text", sa.String(), nullable=False),
        sa.Column("body_html", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("has_attachments", sa.Boolean(), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_date"), ["date"], unique=False)
        batch_op.create_index("ix_email_identity", ["message_id", "sender"], unique=True)
        batch_op.create_index(batch_op.f("ix_email_thread_key"), ["thread_key"], unique=False)

    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(), nullable=False),
        sa.Column("encoding", sa.String(), nullable=False),
        sa.Column("content_id", sa.String(), nullable=True),
        sa.Column("inline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["email_id"], ["email.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_email_id"), ["email_id"], unique=False)

    op.create_table(
        "emaillead",
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["email_id"], ["email.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("email_id", "lead_id"),
    )
    with op.batch_alter_table("emaillead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emaillead_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "foldercursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(), nullable=False),
        sa.Column("uidvalidity", sa.Integer(), nullable=False),
        sa.Column("last_uid", sa.Integer(), nullable=False),
        sa.Column("highestmodseq", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("foldercursor", schema=None) as batch_op:
        batch_op.create_index("ix_foldercursor_box_folder", ["mailbox_id", "folder"], unique=True)

    op.create_table(
        "leadaddress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )
    with op.batch_alter_table("leadaddress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leadaddress_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(), nullable=False),
        sa.Column("uidvalidity", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["email_id"], ["email.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sighting_email_id"), ["email_id"], unique=False)
        batch_op.create_index(
            "ix_sighting_place", ["mailbox_id", "folder", "uidvalidity", "uid"], unique=True
        )

    op.create_table(
        "skippedmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(), nullable=False),
        sa.Column("uidvalidity", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("addresses", JSON, nullable=False),
        sa.Column("relink", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("skippedmessage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_skipped_place", ["mailbox_id", "folder", "uidvalidity", "uid"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_skippedmessage_mailbox_id"), ["mailbox_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_skippedmessage_relink"), ["relink"], unique=False)

    op.create_table(
        "synclease",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mailbox_id"),
    )
    op.create_table(
        "syncrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("skipped", JSON, nullable=False),
        sa.Column("leads_created", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_detail", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("syncrun", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_syncrun_mailbox_id"), ["mailbox_id"], unique=False)

    op.create_table(
        "skippedaddress",
        sa.Column("skipped_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["skipped_id"], ["skippedmessage.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("skipped_id", "address"),
    )
    with op.batch_alter_table("skippedaddress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skippedaddress_address"), ["address"], unique=False)

    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("rescan_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_column("rescan_since")
        batch_op.drop_column("failures")
        batch_op.drop_column("next_sync_at")

    with op.batch_alter_table("skippedaddress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skippedaddress_address"))

    op.drop_table("skippedaddress")
    with op.batch_alter_table("syncrun", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_syncrun_mailbox_id"))

    op.drop_table("syncrun")
    op.drop_table("synclease")
    with op.batch_alter_table("skippedmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skippedmessage_relink"))
        batch_op.drop_index(batch_op.f("ix_skippedmessage_mailbox_id"))
        batch_op.drop_index("ix_skipped_place")

    op.drop_table("skippedmessage")
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_sighting_place")
        batch_op.drop_index(batch_op.f("ix_sighting_email_id"))

    op.drop_table("sighting")
    with op.batch_alter_table("leadaddress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leadaddress_lead_id"))

    op.drop_table("leadaddress")
    with op.batch_alter_table("foldercursor", schema=None) as batch_op:
        batch_op.drop_index("ix_foldercursor_box_folder")

    op.drop_table("foldercursor")
    with op.batch_alter_table("emaillead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emaillead_lead_id"))

    op.drop_table("emaillead")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_email_id"))

    op.drop_table("attachment")
    op.drop_table("lead")
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_thread_key"))
        batch_op.drop_index("ix_email_identity")
        batch_op.drop_index(batch_op.f("ix_email_date"))

    op.drop_table("email")
