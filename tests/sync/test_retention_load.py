"""The retention purge under load: a purge of 100,000 emails never holds the write lock for
250 ms, and readers and writers keep going while it runs (real SQLite files)."""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from dashboard.db.engine import IMMEDIATE, make_engine, read_session, write_session
from dashboard.models import Email, EmailLead, LoginFailure, Sighting, SkippedMessage
from dashboard.sync.retention import purge_expired
from tests.support import factories
from tests.support.bulk_mail import fill
from tests.support.sync import set_company

LOCK_BUDGET = 0.25  # seconds a purge transaction may keep the sync or a request waiting


@contextmanager
def database(tmp_path: Path, migrated_db: Path) -> Iterator[tuple[Engine, int]]:
    """An engine on a fresh copy of the migrated database, with a company; its admin's id."""
    path = tmp_path / "leadsync.db"
    shutil.copyfile(migrated_db, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield engine, factories.setup_company(engine).id
    finally:
        engine.dispose()


@contextmanager
def write_transaction_times() -> Iterator[list[float]]:
    """Seconds from BEGIN IMMEDIATE (the lock taken) to COMMIT of every write transaction of
    every session meanwhile: measured here, apart from what the purge reports of itself."""
    times: list[float] = []
    started: dict[int, float] = {}

    def begun(session: Session, _transaction: object, connection) -> None:  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get(IMMEDIATE):
            started[id(session)] = time.perf_counter()

    def committed(session: Session) -> None:
        if id(session) in started:
            times.append(time.perf_counter() - started.pop(id(session)))

    event.listen(Session, "after_begin", begun)
    event.listen(Session, "after_commit", committed)
    try:
        yield times
    finally:
        event.remove(Session, "after_begin", begun)
        event.remove(Session, "after_commit", committed)


def count(engine: Engine, model: type) -> int:
    """Rows of a table."""
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def figures(seconds: list[float]) -> str:
    """Count, max and median of some durations, in milliseconds."""
    ms = sorted(1000 * s for s in seconds)
    return f"{len(ms)} transactions, max {ms[-1]:.1f} ms, median {statistics.median(ms):.1f} ms"


def test_no_write_transaction_of_a_100k_purge_holds_the_lock_for_250_ms(tmp_path, migrated_db):
    with database(tmp_path, migrated_db) as (engine, admin_id):
        bulk = fill(engine, admin_id, old=100_000, recent=2_000, ledger=10_000, body_bytes=60)
        set_company(engine, retention_months=12)
        with write_transaction_times() as measured:
            report = purge_expired(engine, datetime.now(UTC), pause=0)
        print(
            f"\npurge of {report.emails:,} emails, {report.email_batches} email batches:"
            f" measured {figures(measured)}; as reported {figures(report.transactions)}"
        )
        assert (report.emails, report.ledger) == (100_000, bulk.ledger_old)
        assert count(engine, Email) == 2_000 and count(engine, SkippedMessage) == bulk.ledger_recent
        assert count(engine, Sighting) == 2_000
        assert len(measured) == len(report.transactions) > 100  # batched, all of it measured
        assert max(measured) < LOCK_BUDGET
        assert max(report.transactions) < LOCK_BUDGET


class Meanwhile:
    """Threads that keep reading and writing (as pages and the sync do) until told to stop,
    timing each of their queries and write transactions."""

    def __init__(self, engine: Engine, lead_id: int) -> None:
        self.engine, self.lead_id = engine, lead_id
        self.stop = threading.Event()
        self.reads: list[float] = []
        self.writes: list[float] = []
        self.threads = [threading.Thread(target=self.read), threading.Thread(target=self.write)]

    def read(self) -> None:
        """A lead page's query and a count, every 5 ms (not a busy loop: the GIL is shared
        with the purge)."""
        recent = datetime.now(UTC) - timedelta(days=365)
        while not self.stop.is_set():
            started = time.perf_counter()
            with read_session(self.engine) as session:
                session.scalars(
                    select(Email.id).join(EmailLead).where(EmailLead.lead_id == self.lead_id)
                    .order_by(Email.date.desc()).limit(30)
                ).all()  # fmt: skip
                session.scalar(select(func.count()).where(Email.date >= recent))
            self.reads.append(time.perf_counter() - started)
            time.sleep(0.005)

    def write(self) -> None:
        """A small write every 20 ms (a tracking hit, a sync batch's cursor)."""
        while not self.stop.is_set():
            started = time.perf_counter()
            with write_session(self.engine) as session:
                session.add(LoginFailure(scope="ip", key="203.0.113.9"))
            self.writes.append(time.perf_counter() - started)
            time.sleep(0.02)

    def __enter__(self) -> Meanwhile:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_readers_and_writers_keep_going_while_the_purge_runs(tmp_path, migrated_db):
    with database(tmp_path, migrated_db) as (engine, admin_id):
        bulk = fill(engine, admin_id, old=20_000, recent=1_000, body_bytes=60, leads=200)
        set_company(engine, retention_months=12)
        with Meanwhile(engine, bulk.lead_ids[0]) as meanwhile:
            time.sleep(0.2)  # both at work before the purge starts
            started = time.perf_counter()
            report = purge_expired(engine, datetime.now(UTC))
            took = time.perf_counter() - started
        print(f"\npurge {took:.1f} s in {len(report.transactions)} transactions; reads:"
              f" {len(meanwhile.reads)}, max {1000 * max(meanwhile.reads):.0f} ms; writes:"
              f" {len(meanwhile.writes)}, max {1000 * max(meanwhile.writes):.0f} ms")  # fmt: skip
        assert report.emails == 20_000
        # Readers never wait for the purge (WAL); writers wait for one batch at most.
        assert len(meanwhile.reads) > 10 * took
        assert max(meanwhile.reads) < 0.5
        assert len(meanwhile.writes) > 5 * took
        assert max(meanwhile.writes) < 2 * LOCK_BUDGET
