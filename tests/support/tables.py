"""Every table's row count, for the tests of deletion paths: what went, and nothing orphaned."""

from __future__ import annotations

from sqlalchemy import Engine


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table of the database, full-text shadow tables included."""
    with engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
        ).scalars()
        count = 'SELECT count(*) FROM "{}"'  # names read from sqlite_master, not from input
        return {n: conn.exec_driver_sql(count.format(n)).scalar_one() for n in names}


def changed_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """How many rows each table lost (negative: gained), only the tables that changed."""
    return {
        name: before[name] - after.get(name, 0)
        for name in before
        if before[name] != after.get(name, 0)
    }


def orphans(engine: Engine) -> list:
    """Rows whose foreign key points at nothing (PRAGMA foreign_key_check)."""
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("PRAGMA foreign_key_check").all())
