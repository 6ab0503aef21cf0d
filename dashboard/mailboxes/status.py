"""Read-side of sync for the pages: progress, counts and history (the search is in why.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, case, cast, func, select
from sqlmodel import Session

from dashboard.models import (
    Company,
    FolderCursor,
    Mailbox,
    Sighting,
    SkippedMessage,
    SyncRun,
    User,
)

HISTORY_SHOWN = 50


@dataclass
class FolderProgress:
    """One folder's import progress (n of m)."""

    folder: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        """Progress in percent (100 when there is nothing to do)."""
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


def progress(session: Session, mailbox_id: int) -> list[FolderProgress]:
    """Per-folder progress of the current (or last) pass."""
    rows = session.scalars(
        select(FolderCursor)
        .where(FolderCursor.mailbox_id == mailbox_id)
        .order_by(FolderCursor.folder)
    )
    return [FolderProgress(c.folder, min(c.done, c.total), c.total) for c in rows]


def stored_count(session: Session, mailbox_id: int) -> int:
    """Emails seen in this mailbox and stored."""
    query = select(func.count(func.distinct(Sighting.email_id))).where(
        Sighting.mailbox_id == mailbox_id
    )
    return session.scalar(query) or 0


def ledger_message() -> ColumnElement[str]:
    """One skip-ledger message: its Message-ID, sender and subject (the ledger's stand-in for
    the Email identity's fingerprint: its date may be a folder's own INTERNALDATE); a row
    without them (unreadable) is a message of its own."""
    identity = SkippedMessage.message_id + " " + SkippedMessage.sender + " "
    return case(
        (SkippedMessage.message_id != "", identity + SkippedMessage.subject),
        else_="#" + cast(SkippedMessage.id, String),
    )


def skipped_counts(session: Session, mailbox_id: int) -> dict[str, int]:
    """Messages not stored, by reason, each counted once.

    The ledger has a row per folder a message was seen in: ticking Gmail's "Todos os
    e-mails" records every INBOX and Sent skip again (see ledger_message).
    """
    rows = session.execute(
        select(SkippedMessage.reason, func.count(func.distinct(ledger_message())))
        .where(SkippedMessage.mailbox_id == mailbox_id)
        .group_by(SkippedMessage.reason)
    )
    return dict(rows.all())


def seen_again_in_history(session: Session, mailbox_id: int) -> int:
    """Copies of already stored emails fetched by the rounds the history keeps."""
    query = select(func.sum(SyncRun.seen_again)).where(SyncRun.mailbox_id == mailbox_id)
    return session.scalar(query) or 0


def history(session: Session, mailbox_id: int) -> list[SyncRun]:
    """The last rounds, newest first."""
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.mailbox_id == mailbox_id)
            .order_by(SyncRun.id.desc())
            .limit(HISTORY_SHOWN)
        )
    )


def connecter(session: Session, mailbox: Mailbox) -> User | None:
    """Who typed the mailbox's app password last, when it was not its owner (an admin on
    their behalf); None for the owner and the command line."""
    if mailbox.connected_by_user_id in (None, mailbox.user_id):
        return None
    return session.get(User, mailbox.connected_by_user_id)


def cadence_minutes(session: Session, mailbox: Mailbox) -> int | None:
    """How often new mail reaches LeadSync: None while the sync process holds an IDLE on the
    mailbox's INBOX ("tempo real"), else the company's interval in minutes."""
    if mailbox.idle_since is not None:
        return None
    company = session.scalars(select(Company).order_by(Company.id)).first()
    return company.interval_minutes if company else 5
