"""reps' own email templates: emailtemplate.user_id, names unique per owner

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# 0005 created the name's unique constraint without a name: this names it on reflection.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    # Existing templates keep user_id NULL: they stay the company's.
    with op.batch_alter_table("emailtemplate", naming_convention=NAMING) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_emailtemplate_user_id_user", "user", ["user_id"], ["id"], ondelete="CASCADE"
        )
        # PostgreSQL named 0005's constraint itself when it created it.
        batch_op.drop_constraint(
            "emailtemplate_name_key"
            if op.get_bind().dialect.name == "postgresql"
            else "uq_emailtemplate_name",
            type_="unique",
        )
        batch_op.create_index("ux_emailtemplate_user_name", ["user_id", "name"], unique=True)
        batch_op.create_index(
            "ux_emailtemplate_company_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("user_id IS NULL"),
            postgresql_where=sa.text("user_id IS NULL"),
        )


def downgrade() -> None:
    # Reps' own templates have no place in the old schema (one company-wide name each).
    op.execute("DELETE FROM emailtemplate WHERE user_id IS NOT NULL")
    with op.batch_alter_table("emailtemplate", naming_convention=NAMING) as batch_op:
        batch_op.drop_index("ux_emailtemplate_company_name")
        batch_op.drop_index("ux_emailtemplate_user_name")
        batch_op.drop_constraint("fk_emailtemplate_user_id_user", type_="foreignkey")
        batch_op.drop_column("user_id")
        batch_op.create_unique_constraint("uq_emailtemplate_name", ["name"])
