"""The sync lease: one syncer per mailbox at a time, across threads and processes.

Invariant: a lease row names its holder and an expiry; taking it succeeds only when it is
free, expired or already ours, in one write transaction, so two runners can never both
believe they hold it. A holder that dies leaves a lease that expires on its own.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from dashboard.db.dialect import insert_ignoring
from dashboard.models import SyncLease, utcnow


def take_lease(session: Session, mailbox_id: int, holder: str, seconds: float) -> bool:
    """Become the only syncer of a mailbox until the lease expires; False if someone else is."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    session.execute(
        insert_ignoring(session, SyncLease).values(
            mailbox_id=mailbox_id, holder=holder, expires_at=expires
        )
    )
    taken = session.execute(
        update(SyncLease)
        .where(
            SyncLease.mailbox_id == mailbox_id,
            (SyncLease.holder == holder) | (SyncLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    )
    return taken.rowcount == 1


def lease_holder(session: Session, mailbox_id: int) -> str | None:
    """Who holds the mailbox's lease (expired or not)."""
    return session.scalar(select(SyncLease.holder).where(SyncLease.mailbox_id == mailbox_id))


def release_lease(session: Session, mailbox_id: int, holder: str) -> None:
    """Give the lease back (only if we still hold it)."""
    session.execute(
        delete(SyncLease).where(SyncLease.mailbox_id == mailbox_id, SyncLease.holder == holder)
    )
