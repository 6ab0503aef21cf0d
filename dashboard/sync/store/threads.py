"""Threads in the store: the keys a batch's references already have, and the merges that
keep one conversation in one thread when its messages arrive out of order.

Invariant: the emails of a conversation end with one thread key whatever order they are
stored in. A new email takes its key from the one rule (mail/threads.choose_thread_key); a
parent stored after its replies pulls their thread into its own (adopt_replies); an email
stored without Gmail's ids joins Gmail's thread when Gmail shows it (adopt_gmail_thread).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, text, update
from sqlmodel import Session

from dashboard.mail.parse import MessageMeta
from dashboard.mail.threads import gmail_thread_key
from dashboard.models import Email
from dashboard.sync.store.batch import ToStore


def known_threads(session: Session, message_ids: Iterable[str]) -> dict[str, str]:
    """Thread key of each of these message ids that is already stored."""
    wanted = set(message_ids) - {""}
    if not wanted:
        return {}
    query = select(Email.message_id, Email.thread_key).where(Email.message_id.in_(wanted))
    return dict(session.execute(query).all())


def batch_threads(session: Session, batch: list[ToStore]) -> dict[str, str]:
    """Thread key of every stored message id the batch refers to."""
    refs = {r for item in batch for r in (*item.meta.references, item.meta.in_reply_to or "")}
    return known_threads(session, refs)


ADOPT_SQL = text(
    "UPDATE email SET thread_key = :key WHERE thread_key IN "
    "(SELECT thread_key FROM email WHERE in_reply_to = :mid AND thread_key != :key)"
)


def adopt_replies(session: Session, message_id: str, thread: str) -> None:
    """A parent stored after its replies pulls their thread into its own."""
    session.execute(ADOPT_SQL, {"key": thread, "mid": message_id})


def adopt_gmail_thread(session: Session, email_id: int, meta: MessageMeta) -> None:
    """An email stored without Gmail's ids (a smart email, or a copy from another server)
    takes them when Gmail shows it, and its thread joins Gmail's thread."""
    old = session.scalar(
        select(Email.thread_key).where(Email.id == email_id, Email.gm_thrid.is_(None))
    )
    if old is None:
        return
    new = gmail_thread_key(meta.gm_thrid)
    session.execute(
        update(Email)
        .where(Email.id == email_id)
        .values(gm_thrid=meta.gm_thrid, gm_msgid=meta.gm_msgid)
    )
    session.execute(update(Email).where(Email.thread_key == old).values(thread_key=new))
