"""Deleted data gone from the file, not only from the tables (a lead's erasure, LGPD).

SQLite deletes by marking space free: the bytes stay in the page (or on the free list) until
something overwrites them; FTS5 keeps a deleted document's words in its older index segments
until they are merged; the WAL keeps copies of changed pages until a checkpoint. So:

- the erasure runs inside `secure_deletes`, with `PRAGMA secure_delete=ON`: every cell it
  deletes is zeroed, and so are the whole pages it frees (long bodies' overflow pages,
  emptied index pages);
- `scrub` then merges each FTS5 index into one segment, a few hundred pages per short write
  transaction (the 'merge' command with a negative size, itself under secure_delete), which
  drops the erased documents' words, and checkpoints the WAL with TRUNCATE, which copies the
  zeroed pages into the file and empties the WAL.

Not VACUUM: it rewrites the whole database under the write lock (minutes on a large one, with
twice its size on disk meanwhile) while the sync and the web wait; secure_delete zeroes only
what the erasure touched, and the merge steps hold the lock ~0.1 s each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.db.dialect import on_postgres
from dashboard.db.engine import write_session

FTS_TABLES = ("email_fts", "lead_trgm", "lead_words")
PG_VACUUM = "VACUUM email, emaillead, attachment, sighting, lead, leadaddress, skippedmessage"
MERGE_PAGES = 200  # pages per merge step: ~0.1 s of write lock each
MAX_MERGE_STEPS = 100_000  # a bound, never reached: each step merges or the loop ends


def raw_connection(session: Session) -> sqlite3.Connection:
    """The SQLite connection under the session's transaction."""
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


@contextmanager
def secure_deletes(session: Session) -> Iterator[None]:
    """Inside the session's transaction: everything deleted is zeroed, whole freed pages
    included (`PRAGMA secure_delete=ON`), then the connection's usual setting is back.
    PostgreSQL has no such switch: `scrub` vacuums instead (see there)."""
    if on_postgres(session):
        yield
        return
    raw = raw_connection(session)
    usual = raw.execute("PRAGMA secure_delete").fetchone()[0]
    raw.execute("PRAGMA secure_delete=ON")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA secure_delete={int(usual)}")


def merge_fts_index(engine: Engine, table: str) -> int:
    """Merge an FTS5 index into one segment in short steps; return how many steps wrote."""
    steps = 0
    for _ in range(MAX_MERGE_STEPS):
        with write_session(engine) as session, secure_deletes(session):
            raw = raw_connection(session)
            before = raw.total_changes
            raw.execute(
                f"INSERT INTO {table}({table}, rank) VALUES ('merge', ?)",  # noqa: S608  # our names
                (-MERGE_PAGES,),
            )
            # The command counts as one change itself; more means it merged something.
            if raw.total_changes - before <= 1:
                return steps
        steps += 1
    return steps


def checkpoint(engine: Engine) -> bool:
    """Copy the WAL into the file and empty it; False when a reader kept it busy."""
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def scrub(engine: Engine) -> bool:
    """After an erasure: no word of it left in the FTS5 indexes, no copy in the WAL. Returns
    False when the checkpoint could not finish (a long reader): the next one completes it.

    On PostgreSQL: VACUUM the erased tables, so the dead rows' space (and their GIN index
    entries) is marked for reuse. PostgreSQL does not zero it: the bytes stay on disk until
    overwritten, and in the WAL archive and backups the PostgreSQL admin keeps."""
    if on_postgres(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(PG_VACUUM)
        return True
    for table in FTS_TABLES:
        merge_fts_index(engine, table)
    return checkpoint(engine)
