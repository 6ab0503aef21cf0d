"""How much mail a mailbox's first sync looks at, and how much is older than the import window.

Counting asks the IMAP server, so answers are kept per mailbox for a few minutes: the page
and its polled status must not open a connection every 2 seconds, and two tabs must not
count the same mailbox at once. A slow or failing server means no estimate for a while,
never a failed page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from dashboard.accounts.service import get_company
from dashboard.db.secrets import SecretBox
from dashboard.mail.imap_client import ImapError
from dashboard.mail.imap_count import MessageCount, count_messages
from dashboard.mail.net import ServerSettings
from dashboard.mailboxes.service import (
    allows_local_servers,
    end_transaction_before_waiting,
    mailbox_settings,
)
from dashboard.models import Mailbox, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.rules import retention_horizon
from dashboard.sync.runner import import_start

log = logging.getLogger(__name__)

COUNT_SECONDS = 8.0  # the longest a page waits for the server's count
KEEP_SECONDS = 300.0  # an answer is reused this long
RETRY_SECONDS = 60.0  # after a failure, the server is asked again only after this
DEFAULT_IMPORT_DAYS = 30  # before setup, as the company table's default

Counter = Callable[[ServerSettings, list[str], date, float], MessageCount]


@dataclass(frozen=True)
class Estimate:
    """About `recent` messages of the last `days` days are looked at; `older` are left out."""

    recent: int
    older: int
    days: int


@dataclass(frozen=True)
class Entry:
    """A kept answer: None when the server could not say."""

    key: Hashable
    expires: float
    estimate: Estimate | None


class EstimateCache:
    """Answers per mailbox, kept for a while; at most one count per mailbox at a time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}
        self._counting: set[int] = set()

    def lookup(self, mailbox_id: int, key: Hashable) -> Entry | None:
        """The mailbox's answer for this key while it is fresh."""
        with self._lock:
            entry = self._entries.get(mailbox_id)
        if entry is None or entry.key != key or entry.expires <= self.clock():
            return None
        return entry

    def claim(self, mailbox_id: int) -> bool:
        """Take the mailbox's counting turn; False while another request counts it."""
        with self._lock:
            if mailbox_id in self._counting:
                return False
            self._counting.add(mailbox_id)
            return True

    def keep(
        self, mailbox_id: int, key: Hashable, estimate: Estimate | None, seconds: float
    ) -> None:
        """Keep an answer for `seconds`."""
        with self._lock:
            self._entries[mailbox_id] = Entry(key, self.clock() + seconds, estimate)

    def release(self, mailbox_id: int) -> None:
        """Give the counting turn back."""
        with self._lock:
            self._counting.discard(mailbox_id)


def wanted(mailbox: Mailbox, stored: int) -> bool:
    """Show the estimate until the first round has finished, and while nothing is stored,
    so "no email stored" never stands without its reason. Never for a failing mailbox: its
    error says what to do, and logging in again with refused credentials can get the
    account locked."""
    if mailbox.status not in (MailboxStatus.CONNECTED, MailboxStatus.SYNCING):
        return False
    return mailbox.last_success_at is None or stored == 0


def window(session: Session) -> tuple[int, date]:
    """The company's import window: its length in days and its first day (as the sync's)."""
    company = get_company(session)
    days = company.import_days if company else DEFAULT_IMPORT_DAYS
    now = utcnow()
    horizon = retention_horizon(company.retention_months if company else None, now)
    return days, import_start(days, now, horizon)


def cache_key(mailbox: Mailbox, days: int, since: date) -> Hashable:
    """What a count depends on: the account (re-verified on every connect), its folders,
    and the window."""
    return (mailbox.address, mailbox.verified_at, tuple(mailbox.folders), days, since)


def known_estimate(session: Session, mailbox: Mailbox, cache: EstimateCache) -> Entry | None:
    """The kept answer for the mailbox as it is now, without asking the server."""
    days, since = window(session)
    return cache.lookup(mailbox.id, cache_key(mailbox, days, since))


def count_estimate(
    session: Session,
    mailbox: Mailbox,
    cache: EstimateCache,
    *,
    box: SecretBox,
    ca_file: str | None,
    counter: Counter = count_messages,
) -> Estimate | None:
    """Ask the server how much mail the window holds (or reuse a fresh answer); None when
    it cannot say now or another request is already asking."""
    days, since = window(session)
    key = cache_key(mailbox, days, since)
    entry = cache.lookup(mailbox.id, key)
    if entry is not None:
        return entry.estimate
    return ask_and_keep(
        session, mailbox, cache, key, since, days, box=box, ca_file=ca_file, counter=counter
    )


def ask_and_keep(
    session: Session,
    mailbox: Mailbox,
    cache: EstimateCache,
    key: Hashable,
    since: date,
    days: int,
    *,
    box: SecretBox,
    ca_file: str | None,
    counter: Counter = count_messages,
    keep_seconds: float = KEEP_SECONDS,
) -> Estimate | None:
    """Count the folders' mail since `since` on the server and keep the answer under `key`
    (a failure too, for a shorter while); None when it cannot say now or another request
    is already asking. The page's transaction ends before the server is asked."""
    if not cache.claim(mailbox.id):
        return None
    try:
        settings = mailbox_settings(
            mailbox, box, ca_file=ca_file, timeout=COUNT_SECONDS,
            allow_local=allows_local_servers(session),
        )  # fmt: skip
        end_transaction_before_waiting(session)
        try:
            count = counter(settings, list(mailbox.folders), since, COUNT_SECONDS)
        except ImapError as error:
            log.info("could not count the mail of %s: %s", mailbox.address, error)
            cache.keep(mailbox.id, key, None, RETRY_SECONDS)
            return None
        estimate = Estimate(count.recent, count.older, days)
        cache.keep(mailbox.id, key, estimate, keep_seconds)
        return estimate
    finally:
        cache.release(mailbox.id)
