"""Every message accounted for: the server's count of the synced folders against what the
sync recorded for them.

Accounted for = the mailbox's sightings (stored emails and copies seen again both leave
one) plus its skip-ledger rows, in the synced folders at their current UIDVALIDITY. On
the server = the messages of those folders since the day the mailbox's import started
(its first round's import window), counted by the same SEARCH the estimate uses. The
count asks the IMAP server, so it is kept in memory and only taken when an admin asks:
a console render never opens a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, func, select

from dashboard.accounts.service import get_company
from dashboard.db.secrets import SecretBox
from dashboard.mail.imap_count import count_messages
from dashboard.mailboxes.estimate import (
    DEFAULT_IMPORT_DAYS,
    Counter,
    Entry,
    EstimateCache,
    ask_and_keep,
)
from dashboard.models import Mailbox, SyncRun, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.runner import import_start

log = logging.getLogger(__name__)

KEEP_SECONDS = 900.0  # a server count is shown this long after it was taken

UNCHECKED, IMPORTING, COMPLETE, MISSING, EXTRA = (
    "unchecked", "importing", "complete", "missing", "extra",
)  # fmt: skip


@dataclass(frozen=True)
class Health:
    """`accounted` of `on_server` messages; `state` says how to read the difference."""

    accounted: int
    on_server: int | None
    state: str

    @property
    def difference(self) -> int:
        """How many more (or fewer) the server holds than the sync accounted for."""
        return abs((self.on_server or 0) - self.accounted)


def health(accounted: int, on_server: int | None, importing: bool) -> Health:
    """Read the two numbers: no count yet; a first import still running (not a loss yet);
    equal; fewer accounted for (messages the sync has not explained); or more (mail
    deleted on the server since, or synced by a re-scan from an earlier day)."""
    if on_server is None:
        return Health(accounted, None, UNCHECKED)
    if accounted == on_server:
        return Health(accounted, on_server, COMPLETE)
    if importing:
        return Health(accounted, on_server, IMPORTING)
    return Health(accounted, on_server, MISSING if accounted < on_server else EXTRA)


def importing(mailbox: Mailbox) -> bool:
    """True until the mailbox's first round has finished."""
    return mailbox.last_success_at is None


def first_rounds(session: Session, mailbox_id: int | None = None) -> dict[int, datetime]:
    """When each mailbox's first round started (only this one's when given)."""
    query = select(SyncRun.mailbox_id, func.min(SyncRun.started_at))
    if mailbox_id is not None:
        query = query.where(SyncRun.mailbox_id == mailbox_id)
    return dict(session.exec(query.group_by(SyncRun.mailbox_id)).all())


def import_days(session: Session) -> int:
    """The company's import window in days."""
    company = get_company(session)
    return company.import_days if company else DEFAULT_IMPORT_DAYS


def counted_since(days: int, first_round: datetime | None) -> date:
    """The first day the sync looked at: the window of its first round (today's if none)."""
    return import_start(days, first_round or utcnow())


def cache_key(mailbox: Mailbox, since: date) -> Hashable:
    """What a count depends on: the account as verified, its folders, the first day."""
    return ("health", mailbox.address, mailbox.verified_at, tuple(mailbox.folders), since)


def known_count(mailbox: Mailbox, since: date, cache: EstimateCache) -> int | None:
    """The kept server count of the mailbox, without asking the server; none for a mailbox
    that stopped syncing (a disconnected one's history may have been removed since)."""
    if not countable(mailbox):
        return None
    entry: Entry | None = cache.lookup(mailbox.id, cache_key(mailbox, since))
    return entry.estimate.recent if entry and entry.estimate else None


def countable(mailbox: Mailbox) -> bool:
    """Only a working mailbox is counted: logging in again with refused credentials can get
    the account locked."""
    return mailbox.connected and mailbox.status in (
        MailboxStatus.CONNECTED,
        MailboxStatus.SYNCING,
    )


def count_now(
    session: Session,
    mailbox: Mailbox,
    since: date,
    cache: EstimateCache,
    *,
    box: SecretBox,
    ca_file: str | None,
    counter: Counter = count_messages,
) -> int | None:
    """Ask the server for the folders' messages since `since` and keep the answer; None
    when it cannot say now or another request is already asking."""
    if not countable(mailbox):
        return None
    estimate = ask_and_keep(
        session, mailbox, cache, cache_key(mailbox, since), since, 0,
        box=box, ca_file=ca_file, counter=counter, keep_seconds=KEEP_SECONDS,
    )  # fmt: skip
    return estimate.recent if estimate else None
