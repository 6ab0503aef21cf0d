"""Disconnecting a mailbox with or without its synced history.

"Keep" only forgets the secret (service.disconnect_mailbox). "Remove" also deletes, in the
caller's one transaction, what LeadSync holds only because of this mailbox:

- the emails seen through it and through no other mailbox, and the emails its owner sent
  from LeadSync through it that no mailbox has synced (with them go, by cascade, their
  sightings, attachment rows, lead links, full-text rows, notifications; their send
  records and tracking events are deleted here);
- its sightings of the emails other mailboxes saw too (those emails stay);
- its skip ledger and folder cursors, so a later reconnect imports afresh;
- on request, the leads the sync created that are left with no email.

Leads a person created are never deleted, whatever they are left with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from dashboard.models import (
    Email,
    EmailLead,
    FolderCursor,
    Lead,
    Mailbox,
    OutgoingEmail,
    Sighting,
    SkippedMessage,
)
from dashboard.states import LeadSource, Origin
from dashboard.sync.store.leads import refresh_stats

CHUNK = 500  # ids per IN list: SQLite's bound-parameter limit stays far away


@dataclass(frozen=True)
class EmptiedLead:
    """A lead the sync created whose every email goes with the history."""

    id: int
    name: str


@dataclass(frozen=True)
class HistoryRemoval:
    """What removing a mailbox's history deletes and keeps (the dialog shows the counts;
    removal returns what it did)."""

    emails_only_here: int = 0
    emails_shared: int = 0  # seen by other mailboxes too: they stay
    skipped: int = 0  # skip-ledger rows
    emptied_leads: list[EmptiedLead] = field(default_factory=list)


def only_here_query(mailbox: Mailbox):  # type: ignore[no-untyped-def]
    """Ids of the emails LeadSync holds only because of this mailbox."""
    here = aliased(Sighting)
    elsewhere = aliased(Sighting)
    seen_here = exists().where(here.email_id == Email.id, here.mailbox_id == mailbox.id)
    seen_elsewhere = exists().where(
        elsewhere.email_id == Email.id, elsewhere.mailbox_id != mailbox.id
    )
    seen_anywhere = exists().where(elsewhere.email_id == Email.id)
    # A smart email is stored when it is sent, before any sync sees it in Sent.
    sent_unsynced = and_(
        Email.origin == Origin.SMART, Email.user_id == mailbox.user_id, ~seen_anywhere
    )
    return select(Email.id).where(or_(and_(seen_here, ~seen_elsewhere), sent_unsynced))


def shared_count(session: Session, mailbox: Mailbox) -> int:
    """Emails this mailbox saw that another mailbox saw too."""
    elsewhere = aliased(Sighting)
    seen_elsewhere = exists().where(
        elsewhere.email_id == Sighting.email_id, elsewhere.mailbox_id != mailbox.id
    )
    query = select(func.count(func.distinct(Sighting.email_id))).where(
        Sighting.mailbox_id == mailbox.id, seen_elsewhere
    )
    return session.scalar(query) or 0


def chunks(ids: list[int]) -> Iterator[list[int]]:
    """Bounded slices of a list of ids."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def linked_leads(session: Session, email_ids: list[int]) -> set[int]:
    """The leads linked to any of these emails."""
    found: set[int] = set()
    for part in chunks(email_ids):
        query = select(EmailLead.lead_id).where(EmailLead.email_id.in_(part)).distinct()
        found.update(session.scalars(query))
    return found


def emptied_leads(session: Session, lead_ids: Iterable[int], doomed: set[int]) -> list[EmptiedLead]:
    """Of these leads, the ones the sync created whose every email is in `doomed`."""
    emptied = []
    for part in chunks(sorted(lead_ids)):
        rows = session.execute(
            select(Lead.id, Lead.name, EmailLead.email_id)
            .join(EmailLead, EmailLead.lead_id == Lead.id)
            .where(Lead.id.in_(part), Lead.source == LeadSource.SYNC)
            .order_by(Lead.id)
        )
        emails_by_lead: dict[tuple[int, str], set[int]] = {}
        for lead_id, name, email_id in rows:
            emails_by_lead.setdefault((lead_id, name), set()).add(email_id)
        emptied += [
            EmptiedLead(lead_id, name)
            for (lead_id, name), emails in emails_by_lead.items()
            if emails <= doomed
        ]
    return emptied


def skipped_count(session: Session, mailbox: Mailbox) -> int:
    """Rows of this mailbox's skip ledger."""
    query = select(func.count()).select_from(SkippedMessage)
    return session.scalar(query.where(SkippedMessage.mailbox_id == mailbox.id)) or 0


def plan(session: Session, mailbox: Mailbox) -> tuple[list[int], set[int], HistoryRemoval]:
    """The emails to delete, the leads they link, and what removal would delete and keep."""
    doomed = sorted(set(session.scalars(only_here_query(mailbox))))
    touched = linked_leads(session, doomed)
    removal = HistoryRemoval(
        emails_only_here=len(doomed),
        emails_shared=shared_count(session, mailbox),
        skipped=skipped_count(session, mailbox),
        emptied_leads=emptied_leads(session, touched, set(doomed)),
    )
    return doomed, touched, removal


def preview(session: Session, mailbox: Mailbox) -> HistoryRemoval:
    """What "remove the history" would delete now, and what it would keep."""
    return plan(session, mailbox)[2]


def remove_history(
    session: Session, mailbox: Mailbox, *, remove_emptied_leads: bool
) -> HistoryRemoval:
    """Delete what LeadSync holds only because of this mailbox (see the module docstring),
    in the caller's transaction. Returns what was deleted."""
    doomed, touched, removal = plan(session, mailbox)
    quiet = {"synchronize_session": False}
    for part in chunks(doomed):
        # Send records point at their email with SET NULL: delete them (and, by cascade,
        # their links and tracking events) before the emails they describe.
        session.execute(
            delete(OutgoingEmail).where(OutgoingEmail.email_id.in_(part)),
            execution_options=quiet,
        )
        session.execute(delete(Email).where(Email.id.in_(part)), execution_options=quiet)
    for table in (Sighting, SkippedMessage, FolderCursor):
        session.execute(
            delete(table).where(table.mailbox_id == mailbox.id), execution_options=quiet
        )
    emptied = removal.emptied_leads if remove_emptied_leads else []
    gone = {lead.id for lead in emptied}
    for part in chunks(sorted(gone)):
        session.execute(delete(Lead).where(Lead.id.in_(part)), execution_options=quiet)
    refresh_stats(session, touched - gone)
    return replace(removal, emptied_leads=emptied)
