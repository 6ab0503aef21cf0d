"""A rep's notifications (opens, clicks and replies of their smart emails): the unread count
of the header's badge, pages of them newest first, and marking them read. No Flask.

Invariant: every function takes the owner's id and never reaches another user's rows, so a
view that passes `current_user.id` cannot leak or change someone else's notification."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session

from dashboard.models import Lead, Notification, utcnow

PER_PAGE = 25
IN_DROPDOWN = 10


@dataclass(frozen=True)
class NotificationPage:
    """One page of a user's notifications, with the leads they name."""

    items: list[Notification]
    leads: dict[int, Lead]
    page: int
    has_next: bool


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are still unread (the badge)."""
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return session.scalar(query) or 0


def notification_page(
    session: Session, user_id: int, *, page: int = 1, per_page: int = PER_PAGE
) -> NotificationPage:
    """The user's notifications, newest first, `per_page` at a time (page 1 is the newest)."""
    page = max(page, 1)
    rows = list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
    )
    items = rows[:per_page]
    lead_ids = {n.lead_id for n in items if n.lead_id}
    leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))}
    return NotificationPage(items, leads, page, has_next=len(rows) > per_page)


def mark_read(session: Session, user_id: int, notification_id: int) -> bool:
    """Mark one of the user's notifications read; False when it is not theirs (or gone)."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        return False
    if notification.read_at is None:
        notification.read_at = utcnow()
    return True


def mark_all_read(session: Session, user_id: int) -> None:
    """Mark every unread notification of the user read."""
    session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
