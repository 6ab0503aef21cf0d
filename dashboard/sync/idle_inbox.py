"""IMAP IDLE, the database side: which mailboxes should idle, `idle_since` for the pages,
and the INBOX syncs new mail wakes (through the runner, under its lease). No Flask here."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from dashboard.db.engine import read_session, write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail.imap_idle import INBOX
from dashboard.models import Company, Mailbox, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.runner import RunOptions, run_mailbox

log = logging.getLogger(__name__)

ONLY_INBOX = frozenset({INBOX})
BUSY_RETRY_CEILING = 15.0  # seconds between asks for a mailbox another sync holds


@dataclass
class Stats:
    """Counters for tests and the benchmark."""

    attempts: int = 0  # connection attempts
    events: int = 0  # new-mail announcements
    syncs: int = 0  # INBOX syncs run
    renewals: int = 0  # IDLEs re-issued


@dataclass(frozen=True)
class Wanted:
    """A mailbox that should idle, and what its connection depends on."""

    mailbox_id: int
    address: str
    key: tuple  # server, user, encrypted secret, local servers allowed, auth: a change
    # reconnects


def wanted_mailboxes(engine: Engine) -> tuple[list[Wanted], int]:
    """Connected mailboxes whose server offers IDLE and that sync INBOX; and the cap."""
    with read_session(engine) as session:
        company = session.scalars(select(Company).order_by(Company.id)).first()
        boxes = session.scalars(
            select(Mailbox).where(
                Mailbox.secret.is_not(None), Mailbox.status != MailboxStatus.NEEDS_RECONNECT
            )
        ).all()
    if company is None:
        return [], 0
    local = company.allow_local_servers
    return [
        Wanted(
            m.id,
            m.address,
            (m.imap_host, m.imap_port, m.imap_security, m.username, m.secret, local, m.auth),
        )
        for m in boxes
        if "IDLE" in {c.upper() for c in m.capabilities} and INBOX in m.folders
    ], company.idle_connections


def mark_idle(engine: Engine, mailbox_id: int | None, idling: bool) -> None:
    """Record whether a mailbox idles now (None: every mailbox, at start and stop)."""
    query = update(Mailbox).values(idle_since=utcnow() if idling else None)
    if mailbox_id is not None:
        query = query.where(Mailbox.id == mailbox_id)
    with write_session(engine) as session:
        session.execute(query)


class InboxSyncs:
    """INBOX syncs woken by IDLE: one at a time per mailbox, once more if mail came during
    it; two mailboxes at once."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        options: RunOptions,
        busy_retry: float,
        stopping: threading.Event,
        stats: Stats,
    ) -> None:
        self.engine, self.box, self.options = engine, box, options
        self.busy_retry, self.stopping, self.stats = busy_retry, stopping, stats
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idle-sync")
        self.lock = threading.Lock()
        self.syncing: set[int] = set()
        self.again: set[int] = set()

    def shutdown(self) -> None:
        """Drop the syncs not started (the interval round is the safety net)."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    def want(self, mailbox_id: int) -> None:
        """Sync the mailbox's INBOX now, or once more after the sync running now."""
        with self.lock:
            if mailbox_id in self.syncing:
                self.again.add(mailbox_id)
                return
            self.syncing.add(mailbox_id)
        self.pool.submit(self.sync, mailbox_id)

    def sync(self, mailbox_id: int) -> None:
        """Sync INBOX through the runner; while the interval round holds the mailbox, wait
        for it (it may have synced INBOX before the new mail came), asking less and less
        often (a first sync can hold it for minutes; each ask is a write transaction)."""
        pause = self.busy_retry
        while not self.stopping.is_set():
            try:
                result = run_mailbox(
                    self.engine, mailbox_id, self.box, self.options, only=ONLY_INBOX
                )
            except Exception:  # any: logged; the interval round is the safety net
                log.exception("IDLE sync of mailbox %d failed", mailbox_id)
                result = None
            if result is not None and not result.ran:
                self.stopping.wait(pause)
                pause = min(pause * 2, BUSY_RETRY_CEILING)
                continue
            self.stats.syncs += 1
            with self.lock:
                if mailbox_id not in self.again:
                    self.syncing.discard(mailbox_id)
                    return
                self.again.discard(mailbox_id)
        with self.lock:
            self.syncing.discard(mailbox_id)
