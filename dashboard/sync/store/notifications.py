"""Reply notifications: a rep is told when a lead answers one of their smart emails.

Written in the batch's transaction: a batch that never commits notifies nobody, and its
replay after a crash notifies once.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlmodel import Session

from dashboard.models import Notification, OutgoingEmail
from dashboard.sync.store.batch import ToStore
from dashboard.sync.store.emails import Identity, identity


def notify_replies(session: Session, replies: list[ToStore]) -> None:
    """Tell a rep when a lead answers one of their smart emails: once per reply (the same
    message twice in a batch is one reply; two answers to one email are two)."""
    parents: dict[str, dict[Identity, ToStore]] = defaultdict(dict)
    for item in replies:
        parents[item.meta.in_reply_to or ""][identity(item)] = item
    if not parents:
        return
    rows = session.execute(
        select(
            OutgoingEmail.id, OutgoingEmail.user_id, OutgoingEmail.lead_id, OutgoingEmail.message_id
        ).where(OutgoingEmail.message_id.in_(list(parents)))
    )
    for outgoing_id, user_id, lead_id, message_id in rows:
        for reply in parents[message_id].values():
            sender = reply.meta.sender
            session.add(
                Notification(
                    user_id=user_id,
                    kind="reply",
                    lead_id=lead_id,
                    outgoing_id=outgoing_id,
                    detail=sender.email if sender else "",
                )
            )
