"""who connected a mailbox and when: mailbox.connected_by_user_id, mailbox.connected_at

Revision ID: 0010
Revises: 0009
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox") as batch_op:
        batch_op.add_column(sa.Column("connected_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_mailbox_connected_by_user_id_user",
            "user",
            ["connected_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    backfill(op.get_bind())


def backfill(conn: sa.Connection) -> None:
    """Connected mailboxes were connected when last verified (else when created), by the
    person the audit log names for the owner's latest connect; NULL (the command line,
    or unknown) when it names nobody."""
    users = dict(conn.execute(sa.text('SELECT lower(email), id FROM "user"')).all())
    connecters: dict[tuple[int, str], int | None] = {}
    events = conn.execute(
        sa.text(
            "SELECT actor_id, changes FROM auditevent WHERE action = 'mailbox.connect' ORDER BY id"
        )  # fmt: skip
    )
    for actor_id, changes in events:
        values = json.loads(changes) if isinstance(changes, str) else (changes or {})
        owner = users.get(str(values.get("user") or "").lower())
        if owner is not None:
            connecters[(owner, str(values.get("address") or "").lower())] = actor_id
    boxes = conn.execute(
        sa.text(
            "SELECT id, user_id, address, verified_at, created_at FROM mailbox"
            " WHERE secret IS NOT NULL"
        )  # fmt: skip
    ).all()
    for box_id, user_id, address, verified_at, created_at in boxes:
        conn.execute(
            sa.text(
                "UPDATE mailbox SET connected_at = :at, connected_by_user_id = :by WHERE id = :id"
            ),  # fmt: skip
            {
                "at": verified_at or created_at,
                "id": box_id,
                "by": connecters.get((user_id, address.lower())),
            },  # fmt: skip
        )


def downgrade() -> None:
    with op.batch_alter_table("mailbox") as batch_op:
        batch_op.drop_constraint("fk_mailbox_connected_by_user_id_user", type_="foreignkey")
        batch_op.drop_column("connected_at")
        batch_op.drop_column("connected_by_user_id")
