"""Who may read what of an email synced from someone else's mailbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from dashboard.models import Mailbox, Sighting


def seen_in_own_mailbox(session: Session, user_id: int, email_id: int) -> bool:
    """True when the email was synced from the user's own mailbox."""
    query = (
        select(Sighting.id)
        .join(Mailbox, Mailbox.id == Sighting.mailbox_id)
        .where(Sighting.email_id == email_id, Mailbox.user_id == user_id)
        .limit(1)
    )
    return session.scalar(query) is not None


def can_read_body(
    session: Session, *, user_id: int, email_id: int, email_user_id: int | None, visibility: str
) -> bool:
    """Bodies and attachments: one's own mail always; teammates' only when visibility is "all"."""
    if email_user_id == user_id or seen_in_own_mailbox(session, user_id, email_id):
        return True
    return visibility == "all"
