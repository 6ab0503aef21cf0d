"""Reply notifications: a rep is told when a lead answers one of their smart emails.

Written in the batch's transaction: a batch that never commits notifies nobody, and its
replay after a crash notifies once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from dashboard.models import Notification, OutgoingEmail
from dashboard.sync.store.batch import ToStore


def notify_replies(session: Session, replies: list[ToStore]) -> None:
    """Tell a rep when a lead answers one of their smart emails."""
    parents = {i.meta.in_reply_to: i for i in replies}
    if not parents:
        return
    rows = session.execute(
        select(
            OutgoingEmail.id, OutgoingEmail.user_id, OutgoingEmail.lead_id, OutgoingEmail.message_id
        ).where(OutgoingEmail.message_id.in_(list(parents)))
    )
    for outgoing_id, user_id, lead_id, message_id in rows:
        sender = parents[message_id].meta.sender
        session.add(
            Notification(
                user_id=user_id,
                kind="reply",
                lead_id=lead_id,
                outgoing_id=outgoing_id,
                detail=sender.email if sender else "",
            )
        )
