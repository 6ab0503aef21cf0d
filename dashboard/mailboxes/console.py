"""The admins' console: every teammate's mailbox in one table, one query per column family.

A team has dozens of mailboxes: each count below is one grouped query over all of them,
never a query per row. Sorting is a plain function over the rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlmodel import Session

from dashboard.mailboxes.health import Health, counted_since, first_rounds, health, importing
from dashboard.mailboxes.status import ledger_message
from dashboard.models import FolderCursor, Mailbox, Sighting, SkippedMessage, SyncRun, User
from dashboard.states import MailboxStatus

ROUNDS_SHOWN = 12  # bars of the mini chart
NOT_CONNECTED = "not_connected"  # a user with no mailbox row at all
# Unhealthy first: what needs someone's hands, then what stopped, then what works.
STATUS_ORDER = (
    MailboxStatus.NEEDS_RECONNECT,
    MailboxStatus.ERROR,
    MailboxStatus.DISCONNECTED,
    NOT_CONNECTED,
    MailboxStatus.SYNCING,
    MailboxStatus.CONNECTED,
)


@dataclass(frozen=True)
class Round:
    """One round in the mini chart: its height in percent of the tallest, and whether it
    failed."""

    started_at: datetime
    fetched: int
    height: int
    failed: bool


@dataclass
class ConsoleRow:
    """One teammate and their mailbox (None when they never connected one)."""

    owner: User
    mailbox: Mailbox | None
    stored: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    accounted: int = 0
    health: Health | None = None

    @property
    def status(self) -> str:
        """The mailbox's state; "disconnected" once its secret is gone."""
        if self.mailbox is None:
            return NOT_CONNECTED
        return self.mailbox.status if self.mailbox.connected else MailboxStatus.DISCONNECTED

    @property
    def skipped_total(self) -> int:
        """Messages not stored, all reasons together."""
        return sum(self.skipped.values())


def stored_counts(session: Session, mailbox_id: int | None = None) -> dict[int, int]:
    """Emails stored per mailbox (an email seen in two folders counts once)."""
    query = select(Sighting.mailbox_id, func.count(func.distinct(Sighting.email_id)))
    if mailbox_id is not None:
        query = query.where(Sighting.mailbox_id == mailbox_id)
    return dict(session.execute(query.group_by(Sighting.mailbox_id)).all())


def skipped_by_reason(session: Session, mailbox_id: int | None = None) -> dict[int, dict]:
    """Messages not stored per mailbox and reason, each message counted once."""
    messages = func.count(func.distinct(ledger_message()))
    query = select(SkippedMessage.mailbox_id, SkippedMessage.reason, messages)
    if mailbox_id is not None:
        query = query.where(SkippedMessage.mailbox_id == mailbox_id)
    counts: dict[int, dict] = defaultdict(dict)
    for box, reason, count in session.execute(
        query.group_by(SkippedMessage.mailbox_id, SkippedMessage.reason)
    ):
        counts[box][reason] = count
    return counts


def placed_counts(session: Session, mailbox_id: int | None = None) -> dict[tuple[int, str], int]:
    """Per mailbox and folder, the messages the sync accounted for: sightings plus ledger
    rows at the folder's current UIDVALIDITY (a reset folder's old UIDs are gone)."""
    parts = []
    for table in (Sighting, SkippedMessage):
        part = select(table.mailbox_id, table.folder, literal(1).label("one")).join(
            FolderCursor,
            and_(
                FolderCursor.mailbox_id == table.mailbox_id,
                FolderCursor.folder == table.folder,
                FolderCursor.uidvalidity == table.uidvalidity,
            ),
        )
        if mailbox_id is not None:
            part = part.where(table.mailbox_id == mailbox_id)
        parts.append(part)
    places = union_all(*parts).subquery()
    query = select(places.c.mailbox_id, places.c.folder, func.count()).group_by(
        places.c.mailbox_id, places.c.folder
    )
    return {(box, folder): count for box, folder, count in session.execute(query)}


def accounted_for(mailbox: Mailbox, placed: dict[tuple[int, str], int]) -> int:
    """The mailbox's accounted-for messages in the folders it syncs now."""
    return sum(placed.get((mailbox.id, folder), 0) for folder in mailbox.folders)


def last_rounds(session: Session, mailbox_id: int | None = None) -> dict[int, list[SyncRun]]:
    """The newest rounds of each mailbox, oldest first (the chart reads left to right)."""
    number = func.row_number().over(partition_by=SyncRun.mailbox_id, order_by=SyncRun.id.desc())
    inner = select(SyncRun.id, number.label("n"))
    if mailbox_id is not None:
        inner = inner.where(SyncRun.mailbox_id == mailbox_id)
    newest = inner.subquery()
    query = (
        select(SyncRun)
        .join(newest, newest.c.id == SyncRun.id)
        .where(newest.c.n <= ROUNDS_SHOWN)
        .order_by(SyncRun.mailbox_id, SyncRun.id)
    )
    rounds: dict[int, list[SyncRun]] = defaultdict(list)
    for run in session.scalars(query):
        rounds[run.mailbox_id].append(run)
    return rounds


def chart(runs: Iterable[SyncRun]) -> list[Round]:
    """Bars scaled to the busiest round; a round that fetched nothing still shows a sliver."""
    runs = list(runs)
    tallest = max((run.fetched for run in runs), default=0) or 1
    return [
        Round(
            run.started_at,
            run.fetched,
            max(4, round(100 * run.fetched / tallest)),
            bool(run.error_code),
        )  # fmt: skip
        for run in runs
    ]


def team_rows(
    session: Session, server_counts: Callable[[Mailbox, datetime | None], int | None]
) -> list[ConsoleRow]:
    """Every active user with their mailbox and its numbers; `server_counts` gives the kept
    server count of a mailbox (from its first round's start), never asking the server."""
    people = session.execute(
        select(User, Mailbox).outerjoin(Mailbox, Mailbox.user_id == User.id).where(User.active)
    ).all()
    stored, skipped = stored_counts(session), skipped_by_reason(session)
    rounds, placed, firsts = last_rounds(session), placed_counts(session), first_rounds(session)
    rows = []
    for owner, mailbox in people:
        row = ConsoleRow(owner, mailbox)
        if mailbox is not None:
            row.stored, row.skipped = stored.get(mailbox.id, 0), skipped.get(mailbox.id, {})
            row.rounds = chart(rounds.get(mailbox.id, []))
            row.accounted = accounted_for(mailbox, placed)
            on_server = server_counts(mailbox, firsts.get(mailbox.id))
            row.health = health(row.accounted, on_server, importing(mailbox))
        rows.append(row)
    return rows


def health_of(session: Session, mailbox: Mailbox, server_count: int | None) -> Health:
    """One mailbox's health line (the per-mailbox page)."""
    accounted = accounted_for(mailbox, placed_counts(session, mailbox.id))
    return health(accounted, server_count, importing(mailbox))


def first_day(session: Session, mailbox: Mailbox, days: int) -> date:
    """The first day the mailbox's sync looked at."""
    return counted_since(days, first_rounds(session, mailbox.id).get(mailbox.id))


def status_rank(row: ConsoleRow) -> int:
    """Position of the row's status, unhealthy first."""
    return STATUS_ORDER.index(row.status) if row.status in STATUS_ORDER else len(STATUS_ORDER)


def missing(row: ConsoleRow) -> int:
    """0 when the health line shows messages not accounted for (they come first), else 1."""
    return 0 if row.health is not None and row.health.state == "missing" else 1


SORTS: dict[str, Callable[[ConsoleRow], Any]] = {
    "health": lambda r: (status_rank(r), missing(r), r.owner.name.lower()),
    "owner": lambda r: r.owner.name.lower(),
    "address": lambda r: r.mailbox.address if r.mailbox else "",
    "provider": lambda r: r.mailbox.provider if r.mailbox else "",
    "status": lambda r: (status_rank(r), r.owner.name.lower()),
    "last_success": lambda r: (r.mailbox and r.mailbox.last_success_at) or datetime.min,
    "next_run": lambda r: (r.mailbox and r.mailbox.next_sync_at) or datetime.max,
    "stored": lambda r: r.stored,
    "skipped": lambda r: r.skipped_total,
}


def sorted_rows(rows: list[ConsoleRow], sort: str, descending: bool) -> list[ConsoleRow]:
    """The rows in the asked order (unknown sort: unhealthy first)."""
    key = SORTS.get(sort, SORTS["health"])
    return sorted(rows, key=key, reverse=descending)
