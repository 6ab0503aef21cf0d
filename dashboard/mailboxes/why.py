""" "Why is this email not here?": find a mailbox's messages, stored or in the skip ledger,
by whatever the user remembers: an address, words of the subject, the day, or the folder.

A message the parser could not read has no subject and no sender in the ledger; its
folder (and, when the server gave one, its day) is all there is to find it by.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, cast, false, func, or_, select
from sqlmodel import Session

from dashboard.models import Email, Sighting, SkippedAddress, SkippedMessage

MIN_CHARS = 3  # shorter text matches half the mailbox
SHOWN = 20


@dataclass(frozen=True)
class WhySearch:
    """What the user typed (lowercased), and the day it names as UTC bounds, if it names one."""

    text: str
    day: tuple[datetime, datetime] | None = None

    @property
    def usable(self) -> bool:
        """True when there is enough to search for."""
        return self.day is not None or len(self.text) >= MIN_CHARS


@dataclass
class StoredHit:
    """A stored email that matches, and the folders of this mailbox it was seen in."""

    email: Email
    folders: list[str]


@dataclass
class WhyAnswer:
    """Where the searched messages went; `more` when there were more than were shown."""

    stored: list[StoredHit] = field(default_factory=list)
    skipped: list[SkippedMessage] = field(default_factory=list)
    more: bool = False


def contains(column: ColumnElement, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, with % and _ in the text taken literally."""
    return func.lower(column).contains(text, autoescape=True)


def on_day(column: ColumnElement, search: WhySearch) -> ColumnElement[bool]:
    """The column falls on the searched day (nothing matches when no day was typed)."""
    if search.day is None:
        return false()
    start, end = search.day
    return and_(column >= start, column < end)


def skipped_matching(session: Session, mailbox_id: int, search: WhySearch) -> list:
    """Ledger rows of the mailbox matching by subject, sender, outsider, folder or day."""
    text, conditions = search.text, [on_day(SkippedMessage.date, search)]
    if len(text) >= MIN_CHARS:
        outsiders = select(SkippedAddress.skipped_id).where(contains(SkippedAddress.address, text))
        conditions += [
            contains(SkippedMessage.subject, text),
            contains(SkippedMessage.sender, text),
            contains(SkippedMessage.folder, text),
            SkippedMessage.id.in_(outsiders),
        ]
    query = (
        select(SkippedMessage)
        .where(SkippedMessage.mailbox_id == mailbox_id, or_(*conditions))
        .order_by(SkippedMessage.date.desc(), SkippedMessage.id.desc())
        .limit(SHOWN + 1)
    )
    return list(session.scalars(query))


def stored_matching(session: Session, mailbox_id: int, search: WhySearch) -> list:
    """Stored emails seen in the mailbox matching by subject, address, folder or day."""
    text, conditions = search.text, [on_day(Email.date, search)]
    if len(text) >= MIN_CHARS:
        conditions += [
            contains(Email.subject, text),
            contains(Email.sender, text),
            contains(cast(Email.to_addrs, String), text),
            contains(cast(Email.cc_addrs, String), text),
            contains(Sighting.folder, text),
        ]
    query = (
        select(Email)
        .join(Sighting, Sighting.email_id == Email.id)
        .where(Sighting.mailbox_id == mailbox_id, or_(*conditions))
        .distinct()
        .order_by(Email.date.desc(), Email.id.desc())
        .limit(SHOWN + 1)
    )
    return list(session.scalars(query))


def folders_of(session: Session, mailbox_id: int, email_ids: list[int]) -> dict[int, list[str]]:
    """The folders of the mailbox each email was seen in."""
    rows = session.execute(
        select(Sighting.email_id, Sighting.folder)
        .where(Sighting.mailbox_id == mailbox_id, Sighting.email_id.in_(email_ids))
        .distinct()
        .order_by(Sighting.folder)
    )
    found: dict[int, list[str]] = defaultdict(list)
    for email_id, folder in rows:
        found[email_id].append(folder)
    return found


def why_not_here(
    session: Session, mailbox_id: int, search: WhySearch, *, include_stored: bool = True
) -> WhyAnswer:
    """Find the mailbox's messages, stored or skipped, that match the search. An admin
    searching a teammate's mailbox gets the skip ledger only: a stored email is read on its
    lead's page, under the privacy rule (a private thread's subject must not answer a
    search)."""
    if not search.usable:
        return WhyAnswer()
    skipped = skipped_matching(session, mailbox_id, search)
    emails = stored_matching(session, mailbox_id, search) if include_stored else []
    folders = folders_of(session, mailbox_id, [e.id for e in emails[:SHOWN]])
    return WhyAnswer(
        [StoredHit(e, folders[e.id]) for e in emails[:SHOWN]],
        skipped[:SHOWN],
        more=len(skipped) > SHOWN or len(emails) > SHOWN,
    )
