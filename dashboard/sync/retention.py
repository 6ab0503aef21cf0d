"""The retention purge: emails older than the company's horizon (rules.retention_horizon),
and skip-ledger rows as old, deleted in small batches. No Flask: the scheduler runs it daily.

Invariants:
- Each batch is its own short write transaction, sized to take about TARGET_SECONDS, with a
  pause after it, so the write lock is never held for long and a waiting writer (a sync
  commit, a tracking hit) gets its turn between batches; readers never wait (WAL).
- With an email go, in its batch's transaction: its sightings, lead links and attachment rows
  and the notifications about it (ON DELETE CASCADE), its full-text row (trigger email_fts_ad),
  its smart-email record with the links and tracking events of that record (deleted here: the
  foreign key would only set NULL) and the "private" mark of a thread left without emails.
  Leads stay; the summaries (count, first and last contact) of those that lost emails are
  recomputed once each after the last email batch, in batches too: recomputing them with
  every batch cost more than the deletes (a lead seen in a hundred batches was recounted a
  hundred times), so during a purge a lead may show more emails than it still has.
- A ledger row is as old as its message's date, or its own `created_at` when the date is
  unknown (ledger.ledger_age); older rows go, with their address index (CASCADE).
- The sync never brings purged mail back: it uses the same horizon (engine.MailboxJob.horizon).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, exists, func, select, text
from sqlmodel import Session

from dashboard.db.dialect import on_postgres
from dashboard.db.engine import read_session, write_session
from dashboard.models import Company, Email, EmailLead, OutgoingEmail, PrivateThread, SkippedMessage
from dashboard.sync.rules import retention_horizon
from dashboard.sync.store.leads import refresh_stats
from dashboard.sync.store.ledger import ledger_age

log = logging.getLogger(__name__)
Step = Callable[[Session, int], bool]  # one batch of a kind: (session, size) -> done

# Batches are sized by time, not by count: an email's cost is mostly its full-text row
# (tokenizing its subject and body again to delete them), so it varies with the bodies and
# the machine (bench/RESULTS.md, "Retention purge": 1.5-3 ms per email of 2.5 KB on a busy
# VM), and every transaction costs some 5-30 ms more (its commit writes a new full-text
# segment; the leads' summaries are recomputed). Each batch aims at TARGET_SECONDS: a fifth
# of the 250 ms a write may keep others waiting, so a busy CPU or a full-text segment merge
# stretching one (p95 ~4x the median, see bench/RESULTS.md) still mostly leaves it under.
TARGET_SECONDS = 0.05
FIRST_BATCH = 20  # emails (or 10x as many ledger rows) in the first transaction
EMAIL_BATCHES = (5, 2000)  # the bounds of an email batch
LEDGER_CHUNKS = (50, 20000)  # the bounds of a ledger chunk (rows looked at)
# A writer waiting for the lock sleeps up to 100 ms between tries (SQLite's busy handler):
# pausing longer than that after each batch lets it in instead of the purge's next batch.
PAUSE_SECONDS = 0.12
# The full-text index is merged by the purge itself, a few pages at the end of each email
# batch, instead of by FTS5's 'automerge': with automerge on, the commit that tips a level
# over pays for merging it (the p95 ~4x the median in bench/RESULTS.md); with it off and
# nothing else, a "crisis merge" of 16 segments took 726 ms. So automerge is off while the
# purge deletes emails and each batch ends with a 'merge' of at most MERGE_PAGES pages (it
# does nothing until a level has 4 segments); FTS5's default comes back when the purge
# ends, and at the start of the next one should a crash have left it off.
FTS_AUTOMERGE_DEFAULT = 4
MERGE_PAGES = 64


@dataclass
class PurgeReport:
    """What a purge deleted, and how long each of its write transactions took."""

    horizon: datetime | None
    emails: int = 0
    email_batches: int = 0
    ledger: int = 0
    smart_emails: int = 0
    transactions: list[float] = field(default_factory=list)  # seconds, one per transaction


def company_horizon(session: Session, now: datetime) -> datetime | None:
    """The company's retention horizon now (None: keep everything, or no company yet)."""
    company = session.scalars(select(Company).order_by(Company.id)).first()
    return retention_horizon(company.retention_months if company else None, now)


def count_expired(session: Session, horizon: datetime | None) -> int:
    """How many emails the next purge deletes (what the settings page announces)."""
    if horizon is None:
        return 0
    return session.scalar(select(func.count()).where(Email.date < horizon)) or 0


def purge_email_batch(session: Session, horizon: datetime, limit: int) -> tuple[int, set[int]]:
    """Delete up to `limit` of the oldest emails older than the horizon; return how many,
    and the leads they were linked to (whose summaries the caller recomputes)."""
    ids = list(
        session.scalars(
            select(Email.id).where(Email.date < horizon).order_by(Email.date).limit(limit)
        )
    )
    if not ids:
        return 0, set()
    leads = set(session.scalars(select(EmailLead.lead_id).where(EmailLead.email_id.in_(ids))))
    threads = set(session.scalars(select(Email.thread_key).where(Email.id.in_(ids))))
    session.execute(delete(OutgoingEmail).where(OutgoingEmail.email_id.in_(ids)))
    session.execute(delete(Email).where(Email.id.in_(ids)))
    session.execute(
        delete(PrivateThread).where(
            PrivateThread.thread_key.in_(threads),
            ~exists().where(Email.thread_key == PrivateThread.thread_key),
        )
    )
    return len(ids), leads


def purge_unsent_smart_emails(session: Session, horizon: datetime, limit: int) -> int:
    """Delete smart emails older than the horizon that never became a stored email (failed
    ones kept for a retry): their text and recipients are mail the retention covers too."""
    ids = select(OutgoingEmail.id).where(
        OutgoingEmail.email_id.is_(None), OutgoingEmail.created_at < horizon
    )
    result = session.execute(delete(OutgoingEmail).where(OutgoingEmail.id.in_(ids.limit(limit))))
    return result.rowcount or 0


def purge_ledger_chunk(
    session: Session, horizon: datetime, after: int, size: int
) -> tuple[int | None, int]:
    """Delete the too-old rows among the next `size` ledger rows after id `after`; return
    the last id looked at (None when no rows were left) and how many rows went. Walking the
    ids in chunks bounds each transaction without an index on the rows' age."""
    ids = list(
        session.scalars(
            select(SkippedMessage.id)
            .where(SkippedMessage.id > after)
            .order_by(SkippedMessage.id)
            .limit(size)
        )
    )
    if not ids:
        return None, 0
    result = session.execute(
        delete(SkippedMessage).where(
            SkippedMessage.id.between(ids[0], ids[-1]), ledger_age() < horizon
        )
    )
    return ids[-1], result.rowcount or 0


def next_batch_size(size: int, took: float, target: float, low: int, high: int) -> int:
    """The next batch's size after one of `size` took `took` seconds: scaled to take the
    target time if the cost per row holds, but at most halved or doubled at a time (one slow
    commit, a checkpoint or a busy CPU, should not swing it); within low..high."""
    wanted = size * target / max(took, 1e-6)
    return max(low, min(high, size * 2, max(size // 2, round(wanted))))


class Purge:
    """One purge run: batches of one kind after another, each its own timed transaction
    followed by a pause, each sized from how long the one before took."""

    def __init__(self, engine: Engine, horizon: datetime, pause: float, target: float) -> None:
        self.engine, self.horizon, self.pause, self.target = engine, horizon, pause, target
        self.report = PurgeReport(horizon)
        self.after = 0  # the ledger's last id looked at
        self.leads: set[int] = set()  # leads whose summaries are to be recomputed

    def transaction(self, step: Step, size: int) -> bool:
        """Run one step in its own write transaction, time it, then pause; return whether
        it reported being done."""
        started = time.perf_counter()
        with write_session(self.engine) as session:
            result = step(session, size)
        self.report.transactions.append(time.perf_counter() - started)
        time.sleep(self.pause)
        return result

    def repeat(self, step: Step, size: int, bounds: tuple[int, int]) -> None:
        """Run `step(session, size)` in one transaction after another until it reports
        that it is done, resizing after each."""
        done = False
        while not done:
            done = self.transaction(step, size)
            size = next_batch_size(size, self.report.transactions[-1], self.target, *bounds)

    def email_step(self, session: Session, size: int) -> bool:
        """One batch of the oldest emails, and a little full-text merging (see MERGE_PAGES);
        done when fewer than asked were left."""
        deleted, leads = purge_email_batch(session, self.horizon, size)
        if not on_postgres(session):  # PostgreSQL's GIN indexes need no merging by hand
            session.execute(MERGE_STEP, {"pages": MERGE_PAGES})
        self.report.emails += deleted
        self.report.email_batches += 1
        self.leads |= leads
        return deleted < size

    def summary_step(self, session: Session, size: int) -> bool:
        """Recompute the summaries of some of the leads that lost emails; done when none
        are left."""
        batch = sorted(self.leads)[:size]
        refresh_stats(session, batch)
        self.leads.difference_update(batch)
        return not self.leads

    def smart_email_step(self, session: Session, size: int) -> bool:
        """One batch of unsent smart emails; done when fewer than asked were left."""
        deleted = purge_unsent_smart_emails(session, self.horizon, size)
        self.report.smart_emails += deleted
        return deleted < size

    def ledger_step(self, session: Session, size: int) -> bool:
        """The next chunk of ledger rows; done past the last row."""
        last, deleted = purge_ledger_chunk(session, self.horizon, self.after, size)
        self.report.ledger += deleted
        self.after = last or self.after
        return last is None


MERGE_STEP = text("INSERT INTO email_fts(email_fts, rank) VALUES ('merge', :pages)")
SET_AUTOMERGE = text("INSERT INTO email_fts(email_fts, rank) VALUES ('automerge', :level)")


def set_fts_automerge(session: Session, level: int) -> bool:
    """FTS5's automatic merging of the email index: 0 off, FTS_AUTOMERGE_DEFAULT as shipped.
    Nothing on PostgreSQL (no FTS5)."""
    if not on_postgres(session):
        session.execute(SET_AUTOMERGE, {"level": level})
    return True


def purge_expired(
    engine: Engine,
    now: datetime,
    *,
    first_batch: int = FIRST_BATCH,
    pause: float = PAUSE_SECONDS,
    target: float = TARGET_SECONDS,
) -> PurgeReport:
    """Delete what the company's retention no longer keeps; nothing when it keeps everything.
    `first_batch`: emails in the first transaction (then sized by time, see TARGET_SECONDS)."""
    with read_session(engine) as session:
        horizon = company_horizon(session, now)
    if horizon is None:
        return PurgeReport(None)
    purge = Purge(engine, horizon, pause, target)
    purge.transaction(lambda session, _size: set_fts_automerge(session, 0), 0)
    try:  # the purge merges the index itself meanwhile (see MERGE_PAGES)
        purge.repeat(purge.email_step, first_batch, EMAIL_BATCHES)
    finally:
        purge.transaction(
            lambda session, _size: set_fts_automerge(session, FTS_AUTOMERGE_DEFAULT), 0
        )
    if purge.leads:
        purge.repeat(purge.summary_step, first_batch, EMAIL_BATCHES)
    purge.repeat(purge.smart_email_step, first_batch, EMAIL_BATCHES)
    purge.repeat(purge.ledger_step, 10 * first_batch, LEDGER_CHUNKS)
    report = purge.report
    log.info(
        "retention: deleted %d emails, %d unsent smart emails and %d ledger rows older than"
        " %s in %d transactions (%d of emails; longest %.0f ms)",
        report.emails, report.smart_emails, report.ledger, horizon.date().isoformat(),
        len(report.transactions), report.email_batches,
        1000 * max(report.transactions, default=0.0),
    )  # fmt: skip
    return report
