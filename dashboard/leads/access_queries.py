"""The database side of the access rule (`dashboard/leads/access.py`): the facts the rule
needs (seen in the viewer's mailbox, private threads) and, for SQL that filters in the
database, which emails stand in which `Relation` to a viewer. Nothing here decides a level:
callers hand the facts to `email_access`, or ask `level_of` for each relation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, false, or_, select, true
from sqlalchemy.orm import aliased
from sqlmodel import Session

from dashboard.accounts.service import get_company
from dashboard.leads.access import Access, Relation, Viewer, email_access
from dashboard.models import Email, Lead, Mailbox, PrivateThread, Sighting, User
from dashboard.states import Visibility

# An SQL expression standing for an id: a column, an aliased column or a bound parameter.
SqlId = Any


def viewer_of(user: User) -> Viewer:
    """The rule's view of a user."""
    return Viewer(user.id, user.role, user.active)


def destroyable_by(viewer: Viewer) -> ColumnElement[bool]:
    """SQL: `may_destroy_lead(viewer, Lead.owner_id)` (a test checks the two agree)."""
    if not viewer.active:
        return false()
    if viewer.role == "admin":
        return true()
    return or_(Lead.owner_id.is_(None), Lead.owner_id == viewer.id)


def seen_by(viewer_id: SqlId, email_id: SqlId) -> ColumnElement[bool]:
    """The email was synced from the viewer's mailbox (index sighting(email_id, mailbox_id))."""
    mailboxes = select(Mailbox.id).where(Mailbox.user_id == viewer_id)
    return exists().where(Sighting.email_id == email_id, Sighting.mailbox_id.in_(mailboxes))


def own_email(viewer_id: int, email_id: SqlId) -> ColumnElement[bool]:
    """Relation.OWN: the viewer is the email's rep, or it was synced from their mailbox."""
    sent = aliased(Email)
    return or_(
        seen_by(viewer_id, email_id),
        exists().where(sent.id == email_id, sent.user_id == viewer_id),
    )


def hidden_email_ids(viewer_id: int) -> Select:
    """Relation.PRIVATE: emails of threads another rep made private, except the viewer's own.
    Few rows, found from the private threads (IN on ix_email_thread_key), never by reading
    every match."""
    others_private = select(PrivateThread.thread_key).where(PrivateThread.user_id != viewer_id)
    return select(Email.id).where(
        Email.thread_key.in_(others_private),
        Email.user_id.is_distinct_from(viewer_id),
        ~seen_by(viewer_id, Email.id),
    )


def in_relations(
    viewer_id: int, relations: frozenset[Relation], email_id: SqlId
) -> ColumnElement[bool]:
    """SQL: the email stands in one of these relations to the viewer. The sets search uses
    have cheap forms: all but PRIVATE is "not among the few hidden ids"."""
    if relations >= set(Relation):
        return true()
    hidden = hidden_email_ids(viewer_id)
    if {Relation.OWN, Relation.TEAM} <= relations:
        return email_id.not_in(hidden)
    parts = []
    if Relation.OWN in relations:
        parts.append(own_email(viewer_id, email_id))
    if Relation.TEAM in relations:
        parts.append(and_(~own_email(viewer_id, email_id), email_id.not_in(hidden)))
    if Relation.PRIVATE in relations:
        parts.append(email_id.in_(hidden))
    return or_(*parts) if parts else false()


# Built once, with bound parameters: the lead page asks them on every view.
SEEN_BY_VIEWER = select(Email.id).where(
    Email.id.in_(bindparam("ids", expanding=True)), seen_by(bindparam("viewer_id"), Email.id)
)
PRIVATE_THREADS = select(PrivateThread.thread_key, PrivateThread.user_id).where(
    PrivateThread.thread_key.in_(bindparam("keys", expanding=True))
)


def seen_ids(session: Session, viewer_id: int, email_ids: list[int]) -> set[int]:
    """Which of these emails were synced from the viewer's mailbox: one query."""
    rows = session.connection().execute(SEEN_BY_VIEWER, {"ids": email_ids, "viewer_id": viewer_id})
    return set(rows.scalars())


def private_threads(session: Session, keys: list[str]) -> dict[str, int]:
    """Which of these threads are private, and who marked each: one query."""
    return dict(session.connection().execute(PRIVATE_THREADS, {"keys": keys}).all())


def company_visibility(session: Session) -> str:
    """The company's visibility setting ("metadata", the narrowest, before setup)."""
    company = get_company(session)
    return company.visibility if company else Visibility.METADATA


def access_to(session: Session, viewer: Viewer, email: Email) -> Access:
    """What the viewer may see of one email, its facts read in three small queries."""
    private = private_threads(session, [email.thread_key])
    return email_access(
        viewer,
        rep_id=email.user_id,
        seen=bool(seen_ids(session, viewer.id, [email.id])),
        private_by=private.get(email.thread_key),
        visibility=company_visibility(session),
    )
