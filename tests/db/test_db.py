"""SQLite settings and write transactions: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from dashboard.db.engine import make_engine, write_session
from dashboard.db.flask import get_session
from tests.support.database import sqlite_only

UPDATE = text("UPDATE counter SET value = :v WHERE id = 1")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A fresh engine on its own file with one counter row."""
    path = tmp_path / "test.db"
    engine = make_engine(f"sqlite:///{path}")
    with write_session(engine) as session:
        session.exec(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)"))
        session.exec(text("INSERT INTO counter VALUES (1, 0)"))
    yield engine, path
    engine.dispose()


def pragma(engine: Engine, name: str) -> object:
    """Read a pragma on a pooled connection."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def counter(engine: Engine) -> int:
    """The counter's value."""
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT value FROM counter WHERE id = 1").scalar()


def test_journal_mode_is_wal(database):
    engine, _ = database
    assert pragma(engine, "journal_mode") == "wal"


def test_foreign_keys_are_enforced(database):
    engine, _ = database
    assert pragma(engine, "foreign_keys") == 1


def test_busy_timeout_is_set(database):
    engine, _ = database
    assert pragma(engine, "busy_timeout") == 15000


@pytest.fixture
def app_config() -> dict:
    """A distinctive busy timeout, to see the setting reach the app's connections."""
    return {"SQLITE_BUSY_TIMEOUT_MS": 4321}


@sqlite_only("pragmas")
def test_app_engine_uses_the_configured_busy_timeout_and_wal(engine):
    assert pragma(engine, "busy_timeout") == 4321
    assert pragma(engine, "journal_mode") == "wal"
    assert pragma(engine, "foreign_keys") == 1


def test_app_database_rejects_a_dangling_foreign_key(engine):
    with pytest.raises(IntegrityError, match="(?i)foreign key"), write_session(engine) as session:
        session.exec(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        session.exec(
            text("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent)")
        )
        session.exec(text("INSERT INTO child VALUES (1, 42)"))


def holds_write_lock(path: Path) -> bool:
    """True when another connection currently holds the database's write lock."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


def test_write_session_takes_the_write_lock_at_its_first_read(database):
    engine, path = database
    with write_session(engine) as session:
        session.exec(text("SELECT value FROM counter")).one()
        assert holds_write_lock(path)
    assert not holds_write_lock(path)


def test_plain_session_reads_without_the_write_lock(database):
    engine, path = database
    with Session(engine) as session:
        session.exec(text("SELECT value FROM counter")).one()
        assert not holds_write_lock(path)


@sqlite_only("BEGIN IMMEDIATE takes the database file's write lock")
@pytest.mark.parametrize(("method", "locks"), [("POST", True), ("GET", False)])
def test_request_session_is_immediate_only_for_unsafe_methods(app, method, locks):
    path = Path(app.instance_path) / "leadsync.db"
    with app.test_request_context("/", method=method):
        get_session().exec(text("SELECT count(*) FROM user")).one()
        assert holds_write_lock(path) is locks


def run_in_threads(work: Callable[[], None], count: int = 2) -> list[BaseException]:
    """Run `work` in parallel threads; return the errors they raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 (collected for the assertion)
            errors.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_readers_turned_writers_in_write_sessions_both_succeed(database):
    engine, _ = database
    start = threading.Barrier(2, timeout=10)

    def read_then_write() -> None:
        start.wait()  # both threads open their transaction at the same moment
        with write_session(engine) as session:
            value = session.exec(text("SELECT value FROM counter WHERE id = 1")).scalar()
            time.sleep(0.05)  # leave the other thread time to read the same value
            session.exec(UPDATE, params={"v": value + 1})

    assert run_in_threads(read_then_write) == []
    assert counter(engine) == 2  # serialized: no lost update either


def test_readers_turned_writers_in_deferred_sessions_hit_database_locked(database):
    engine, _ = database
    both_have_read = threading.Barrier(2, timeout=10)

    def read_then_write() -> None:
        with Session(engine) as session:
            value = session.exec(text("SELECT value FROM counter WHERE id = 1")).scalar()
            both_have_read.wait()
            session.exec(UPDATE, params={"v": value + 1})
            session.commit()

    errors = run_in_threads(read_then_write)
    assert len(errors) == 1
    assert isinstance(errors[0], OperationalError)
    assert "database is locked" in str(errors[0])
    assert counter(engine) == 1
