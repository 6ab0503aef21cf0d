"""The skip ledger and the problem notes of one mailbox, for the admins' pages: filtered,
paged with a total, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Generic, TypeVar

from sqlalchemy import exists, func, select
from sqlmodel import Session, col

from dashboard.db.dialect import json_array_length
from dashboard.models import Email, EmailLead, Lead, Sighting, SkippedMessage

PER_PAGE = 50
T = TypeVar("T")


@dataclass(frozen=True)
class LedgerFilter:
    """Which ledger rows to show: a reason, and message dates in [start, end)."""

    reason: str = ""
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class Page(Generic[T]):
    """One page of results and where it stands among them."""

    items: list[T]
    total: int
    number: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, empty or not)."""
        return max(1, ceil(self.total / self.per_page))


@dataclass
class ProblemEmail:
    """A stored email with problem notes, and the leads it belongs to (id, name)."""

    email_id: int
    date: datetime
    direction: str
    problems: list[str]
    leads: list[tuple[int, str]] = field(default_factory=list)


def page_number(text: str | None) -> int:
    """The page asked for in the query string, 1 when missing or not a number."""
    return int(text) if text and text.isdigit() and int(text) > 0 else 1


def ledger_rows(
    session: Session, mailbox_id: int, chosen: LedgerFilter, number: int = 1
) -> Page[SkippedMessage]:
    """The mailbox's ledger rows matching the filter, newest first, one page of them."""
    where = [SkippedMessage.mailbox_id == mailbox_id]
    if chosen.reason:
        where.append(SkippedMessage.reason == chosen.reason)
    if chosen.start is not None:
        where.append(col(SkippedMessage.date) >= chosen.start)
    if chosen.end is not None:
        where.append(col(SkippedMessage.date) < chosen.end)
    total = session.scalar(select(func.count()).select_from(SkippedMessage).where(*where)) or 0
    rows = session.scalars(
        select(SkippedMessage)
        .where(*where)
        .order_by(SkippedMessage.id.desc())
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    )
    return Page(list(rows), total, number)


def problem_emails(session: Session, mailbox_id: int, number: int = 1) -> Page[ProblemEmail]:
    """Stored emails seen in this mailbox that carry problem notes (bad date, nesting too
    deep, undecodable charset...), newest first. Only dates, notes and leads: the subject
    and people are read on the lead page, where the privacy rule decides."""
    seen_here = exists().where(Sighting.email_id == Email.id, Sighting.mailbox_id == mailbox_id)
    where = [seen_here, json_array_length(Email.problems) > 0]
    total = session.scalar(select(func.count()).select_from(Email).where(*where)) or 0
    rows = session.execute(
        select(Email.id, Email.date, Email.direction, Email.problems)
        .where(*where)
        .order_by(Email.date.desc(), Email.id.desc())
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    ).all()
    found = {
        row.id: ProblemEmail(row.id, row.date, row.direction, list(row.problems)) for row in rows
    }
    links = session.execute(
        select(EmailLead.email_id, Lead.id, Lead.name)
        .join(Lead, Lead.id == EmailLead.lead_id)
        .where(EmailLead.email_id.in_(list(found)))
        .order_by(Lead.name)
    )
    for email_id, lead_id, name in links:
        found[email_id].leads.append((lead_id, name))
    return Page(list(found.values()), total, number)
