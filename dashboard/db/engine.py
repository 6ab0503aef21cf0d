"""Engine and sessions for the database (no Flask: the sync and CLI use it too): the
embedded SQLite file by default, or PostgreSQL (`postgresql+psycopg://...`).

Reads use ordinary deferred transactions so they never wait for a writer (WAL).
Writes go through `write_session()` (and every non-GET request), which opens the
transaction with BEGIN IMMEDIATE: a transaction that starts as a reader and later
writes can otherwise fail with "database is locked" when another writer got there
first, because SQLite cannot upgrade its snapshot.

PostgreSQL needs none of that: writers run ordinary READ COMMITTED transactions, and an
UPDATE whose WHERE decides who wins (the sync lease) re-checks it on the row it waited for.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

IMMEDIATE = "leadsync_begin_immediate"
CACHE_KIB = "leadsync_cache_kib"
# SQLite's page cache per connection, in KiB. The web pages re-read email pages, so their
# connections keep a large one; see `small_cache` for the sync's.
PAGE_CACHE_KIB = 16000
# The sync writes each page once and rarely reads it back: SQLite's own default is enough.
# The larger cache held up to 16 MB per pooled connection the sync's threads touched:
# ~60 MB of a 50,000-message first sync's peak RSS (bench/RESULTS.md, issue 15).
SYNC_CACHE_KIB = 2000


def _create_sqlite_file(url: str) -> None:
    """Create the database file with mode 0600 before SQLite opens it."""
    path = make_url(url).database
    if not path or path == ":memory:":
        return
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def make_engine(url: str, busy_timeout_ms: int = 15000) -> Engine:
    """Build an engine with the pragmas and BEGIN handling this app relies on."""
    if not url.startswith("sqlite"):
        # Times come back in UTC, as they do from SQLite, whatever the server's time zone.
        options = {"options": "-c timezone=UTC"}
        return create_engine(url, connect_args=options, pool_size=10, pool_pre_ping=True)
    _create_sqlite_file(url)
    engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=10)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN out of the driver's hands so the "begin" hook below decides its kind.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # wait, don't fail
        cursor.execute("PRAGMA foreign_keys=ON")  # SQLite leaves them off by default
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
        # A private page cache bigger than the default 2 MB: lead pages re-read email pages.
        # No mmap: mapping the whole file counted into the sync's peak RSS (534 MB at 50,000
        # messages against a 250 MB budget) for a sub-millisecond gain on one page query.
        cursor.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        set_cache_size(conn, options.get(CACHE_KIB, PAGE_CACHE_KIB))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(IMMEDIATE, False) else "BEGIN")

    return engine


def set_cache_size(conn: Connection, kib: int) -> None:
    """Give the connection a page cache of `kib` KiB unless it has one already (the pool
    hands the same connection to the sync and to the pages in turn)."""
    info = conn.connection.info
    if conn.dialect.name == "sqlite" and info.get(CACHE_KIB, PAGE_CACHE_KIB) != kib:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")  # shrinking frees the pages
        info[CACHE_KIB] = kib


def small_cache(engine: Engine, kib: int = SYNC_CACHE_KIB) -> Engine:
    """A view of the engine whose transactions run with a page cache of `kib` KiB."""
    return engine.execution_options(**{CACHE_KIB: kib})


def writer(engine: Engine) -> Engine:
    """Return a view of the engine whose transactions begin IMMEDIATE."""
    return engine.execution_options(**{IMMEDIATE: True})


@contextmanager
def _committed(session: Session) -> Iterator[Session]:
    """Commit the session's transaction on success, roll it back on error."""
    with session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def write_session(engine: Engine) -> AbstractContextManager[Session]:
    """A session for one write transaction: commits on success, rolls back on error."""
    return _committed(Session(writer(engine), expire_on_commit=False))


@contextmanager
def impatient_write_session(engine: Engine, lock_wait_ms: int) -> Iterator[Session]:
    """`write_session` that waits at most `lock_wait_ms` for the write lock, then raises
    OperationalError ("database is locked"): for a request that would rather hand its write
    to `dashboard.db.backlog` than keep its visitor waiting behind a sync's commit."""
    if engine.dialect.name != "sqlite":  # PostgreSQL: a row lock waited for too long
        with write_session(engine) as session:
            session.execute(text(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}"))
            yield session
        return
    with writer(engine).connect() as connection:
        raw: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]  # no transaction begun yet
        usual = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout={int(lock_wait_ms)}")
        try:
            with _committed(Session(bind=connection, expire_on_commit=False)) as session:
                yield session
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(usual)}")  # the pool gets it back as it was


def is_lock_timeout(error: BaseException) -> bool:
    """True when another writer held a lock too long: SQLite's "database is locked", or
    PostgreSQL's lock_not_available (SQLSTATE 55P03, `lock_timeout` ran out)."""
    if not isinstance(error, OperationalError):
        return False
    return "database is locked" in str(error.orig) or (
        getattr(error.orig, "sqlstate", None) == "55P03"
    )


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads outside a request."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
