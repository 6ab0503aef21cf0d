"""Alembic wiring: the app upgrades its database to head on start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from dashboard.db.engine import writer

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
REVISION_LINE = re.compile(r'^(down_revision|revision) = "?([\w]+|None)"?$', re.MULTILINE)


def head_revision() -> str:
    """The newest revision, read from the migration files (no Alembic import)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict((k, v) for k, v in REVISION_LINE.findall(path.read_text()))
        revisions.add(fields["revision"])
        parents.add(fields.get("down_revision"))
    (head,) = revisions - parents
    return head


def stored_revision(engine: Engine) -> str | None:
    """The database's revision by plain SQL, or None when it has none yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no table yet (SQLite, PostgreSQL)
        return None


def upgrade_if_needed(engine: Engine) -> None:
    """Upgrade on start, but import Alembic (half a second) only when there is work to do:
    every `flask sync --once` starts a process, and start-up counts in its time."""
    if stored_revision(engine) != head_revision():
        upgrade(engine)


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config that runs on the given engine."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = writer(engine)  # two starting processes take turns
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (head by default)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to `revision`."""
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it is empty."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
