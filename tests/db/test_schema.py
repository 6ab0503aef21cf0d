"""The Alembic migrations and the models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import dashboard.models


def test_migrations_match_the_models(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": dashboard.models.schema_name_is_ours}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
