"""Alembic environment: runs on the engine handed over by dashboard.migrate."""

from alembic import context
from sqlmodel import SQLModel

import dashboard.models  # registers the tables on SQLModel.metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # Batch migrations copy tables; SQLite must not enforce foreign keys meanwhile, and
    # the pragma only takes effect outside a transaction, hence the raw connection.
    # PostgreSQL alters tables in place: nothing to switch off.
    sqlite = connection.dialect.name == "sqlite"
    raw = connection.connection.driver_connection
    if sqlite:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=True,  # SQLite alters tables by copying them
                include_name=dashboard.models.schema_name_is_ours,
            )
            context.run_migrations()
    finally:
        if sqlite:
            raw.execute("PRAGMA foreign_keys=ON")
