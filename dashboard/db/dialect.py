"""What differs between SQLite (the default) and PostgreSQL, in one place.

The rest of the app builds its statements through these helpers and never asks which
database it runs on; SQLite gets exactly the SQL it always got.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

SQLITE = "sqlite"
POSTGRES = "postgresql"

# The Portuguese text search configuration with accents folded (0004 creates it on PG).
PG_TEXT_SEARCH = "leadsync_pt"


def dialect_of(bind: Session | Connection | Engine) -> str:
    """ "sqlite" or "postgresql": the database under a session, connection or engine."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name


def on_postgres(bind: Session | Connection | Engine) -> bool:
    """True when the bind talks to PostgreSQL."""
    return dialect_of(bind) == POSTGRES


def _table(model: Any) -> Table:
    return model if isinstance(model, Table) else model.__table__


def insert_ignoring(bind: Session | Connection | Engine, model: Any) -> Insert:
    """INSERT that skips rows whose unique key is already there (SQLite: OR IGNORE)."""
    if on_postgres(bind):
        return pg_insert(_table(model)).on_conflict_do_nothing()
    return insert(_table(model)).prefix_with("OR IGNORE")


def insert_replacing(
    bind: Session | Connection | Engine, model: Any, key: tuple[str, ...]
) -> Insert:
    """INSERT that overwrites the row with the same `key` (a unique index; SQLite: OR
    REPLACE). On PostgreSQL the row keeps its id (SQLite's REPLACE gives it a new one)."""
    table = _table(model)
    if not on_postgres(bind):
        return insert(table).prefix_with("OR REPLACE")
    statement = pg_insert(table)
    changed = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in key and not column.primary_key
    }
    return statement.on_conflict_do_update(index_elements=list(key), set_=changed)


# Turns that writers of the same rows take one at a time (PostgreSQL advisory lock keys).
SYNC_COMMITS = 1


def take_turn(session: Session, turn: int) -> None:
    """Wait until no other transaction holds `turn`, and hold it until this one ends.
    PostgreSQL only: on SQLite every write transaction already runs alone (BEGIN IMMEDIATE)."""
    if on_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:turn)"), {"turn": turn})


# A subquery of the ids in a JSON array bound as `:ids` (any number of ids in one parameter,
# where an IN list would hit SQLite's parameter limit).
IDS_IN_JSON = {
    SQLITE: "SELECT value FROM json_each(:ids)",
    POSTGRES: "SELECT value::bigint FROM jsonb_array_elements_text(CAST(:ids AS jsonb))",
}


class json_array_length(FunctionElement[int]):  # noqa: N801 - reads like the SQL function
    """The length of a JSON array column."""

    type = Integer()
    inherit_cache = True


@compiles(json_array_length)
def _json_array_length(element: json_array_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.clauses, **kw)})"


@compiles(json_array_length, POSTGRES)
def _jsonb_array_length(element: json_array_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_array_length({compiler.process(element.clauses, **kw)})"
