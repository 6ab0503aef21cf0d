"""The write backlog: writes now when the lock frees soon, later (in order) when it does not,
and GET requests cannot write through their own session."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, text, update
from sqlmodel import Session

from dashboard.db.backlog import WriteBacklog
from dashboard.db.engine import impatient_write_session, is_lock_timeout, make_engine, write_session
from dashboard.db.flask import ReadOnlyRequestError, get_session
from dashboard.models import Company


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A fresh engine on its own file with an empty `hit` table."""
    path = tmp_path / "backlog.db"
    engine = make_engine(f"sqlite:///{path}")
    with write_session(engine) as session:
        session.exec(text("CREATE TABLE hit (id INTEGER PRIMARY KEY, label TEXT)"))
    yield engine, path
    engine.dispose()


@contextmanager
def lock_held(path: Path) -> Iterator[None]:
    """Another connection (like the sync committing a batch) holds the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def hit(label: str):  # type: ignore[no-untyped-def]
    def write(session: Session) -> None:
        session.exec(text("INSERT INTO hit (label) VALUES (:label)").bindparams(label=label))

    return write


def labels(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT label FROM hit ORDER BY id")]


def test_a_write_with_the_lock_free_is_committed_before_write_returns(database) -> None:  # type: ignore[no-untyped-def]
    engine, _ = database
    assert WriteBacklog(engine).write(hit("now")) is True
    assert labels(engine) == ["now"]


def test_a_busy_lock_queues_the_write_after_a_short_wait_and_it_lands_in_order(database) -> None:  # type: ignore[no-untyped-def]
    engine, path = database
    backlog = WriteBacklog(engine, lock_wait_ms=100)
    with lock_held(path):
        started = time.monotonic()
        assert backlog.write(hit("first")) is False
        waited = time.monotonic() - started
        assert backlog.write(hit("second")) is False  # queued behind the first, not raced
        assert labels(engine) == []
        assert backlog.pending() == 2
    assert waited < 2  # the visitor waited about lock_wait_ms, not the 15 s busy timeout
    assert backlog.drain(timeout=10)
    assert labels(engine) == ["first", "second"]
    assert backlog.write(hit("third")) is True  # nothing queued any more: straight through
    assert labels(engine) == ["first", "second", "third"]


def test_writes_arriving_while_others_are_queued_wait_their_turn(database) -> None:  # type: ignore[no-untyped-def]
    engine, path = database
    backlog = WriteBacklog(engine, lock_wait_ms=50)
    with lock_held(path):
        backlog.write(hit("a"))
    backlog.write(hit("b"))  # the lock may be free now, but "a" may not be written yet
    assert backlog.drain(timeout=10)
    assert labels(engine) == ["a", "b"]


def test_a_broken_write_raises_in_the_request_and_is_dropped_in_the_background(
    database, caplog
) -> None:  # type: ignore[no-untyped-def]
    engine, path = database

    def broken(session: Session) -> None:
        session.exec(text("INSERT INTO nowhere VALUES (1)"))

    backlog = WriteBacklog(engine, lock_wait_ms=50)
    with pytest.raises(Exception, match="nowhere"):
        backlog.write(broken)  # a bug surfaces where it happens
    with lock_held(path):
        backlog.write(broken)
        backlog.write(hit("after"))
    assert backlog.drain(timeout=10)
    assert labels(engine) == ["after"]  # the broken one did not block the queue
    assert "dropped" in caplog.text


def test_the_impatient_session_gives_the_connection_back_with_its_usual_timeout(database) -> None:  # type: ignore[no-untyped-def]
    engine, path = database
    with (
        lock_held(path),
        pytest.raises(Exception) as raised,
        impatient_write_session(engine, 50) as session,
    ):
        session.exec(text("SELECT 1"))
    assert is_lock_timeout(raised.value)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_a_get_request_cannot_write_through_its_session(app: Flask, engine) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/anything", method="GET"):
        session = get_session()
        session.add(Company(name="Nova", domains=["nova.test"]))
        with pytest.raises(ReadOnlyRequestError, match="GET /anything"):
            session.flush()
    with app.test_request_context("/anything", method="GET"):
        get_session().execute(text("SELECT 1"))  # reading is what GET is for
        with pytest.raises(ReadOnlyRequestError):
            get_session().execute(update(Company).values(name="x"))


def test_a_post_request_writes_through_its_session(app: Flask, engine) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/anything", method="POST"):
        session = get_session()
        session.execute(update(Company).values(name="Renomeada"))
        session.commit()
