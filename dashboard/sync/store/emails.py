"""Emails in the store: the one Email row builder, new emails of a batch, sightings, links.

Invariants: an email is one row per (Message-ID, sender, fingerprint) identity, however
many folders, mailboxes or smart-email deliveries show it; seeing it again only adds a
Sighting. The fingerprint (mail/fingerprint.py: Date header and subject) keeps two
different messages that share a Message-ID and sender apart; a message at a place where
its email was already seen stays that email (adopt_sighted_places). Writes
are idempotent (unique keys, INSERT OR IGNORE), so replaying a batch stores nothing twice.
`email_row` is the only place that decides an Email's columns: the sync (`stored_row`) and
the smart-email storage (sending/delivery) both go through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from dashboard.mail.addresses import canonical_address
from dashboard.mail.threads import choose_thread_key
from dashboard.models import Attachment, Email, EmailLead, Sighting, utcnow
from dashboard.states import Direction, Origin
from dashboard.sync.store.batch import BatchPlace, ToStore
from dashboard.sync.store.rows import bulk_insert
from dashboard.sync.store.threads import adopt_gmail_thread, adopt_replies, batch_threads


def email_row(
    *,
    message_id: str, sender: str, fingerprint: str, thread_key: str, subject: str,
    date: datetime | None,
    from_name: str, to: Sequence[str], cc: Sequence[str], bcc: Sequence[str],
    in_reply_to: str | None, references: Sequence[str], direction: str, body_text: str,
    body_html: str, size: int, origin: str, user_id: int, synthetic_id: bool = False,
    gm_msgid: int | None = None, gm_thrid: int | None = None, has_attachments: bool = False,
    problems: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Column values of a new Email, every NOT NULL one included (rows skip model defaults).

    A plain dict, not an Email object: the sync builds thousands per batch (bench/).
    """
    return {
        "message_id": message_id, "sender": sender, "fingerprint": fingerprint,
        "synthetic_id": synthetic_id,
        "thread_key": thread_key, "gm_msgid": gm_msgid, "gm_thrid": gm_thrid,
        "subject": subject, "date": date, "from_name": from_name,
        "to_addrs": list(to), "cc_addrs": list(cc), "bcc_addrs": list(bcc),
        "in_reply_to": in_reply_to, "references": list(references), "direction": direction,
        "body_text": body_text, "body_html": body_html, "size": size,
        "has_attachments": has_attachments, "problems": list(problems), "origin": origin,
        "user_id": user_id, "created_at": utcnow(),
    }  # fmt: skip


def stored_row(item: ToStore, thread: str, user_id: int) -> dict[str, Any]:
    """The Email row of a message the sync fetched."""
    meta, sender = item.meta, item.meta.sender
    return email_row(
        message_id=meta.message_id, sender=sender.email if sender else "",
        fingerprint=meta.fingerprint, thread_key=thread, subject=meta.subject, date=meta.date,
        from_name=sender.name if sender else "",
        to=[a.email for a in meta.to if a.email], cc=[a.email for a in meta.cc if a.email],
        bcc=[a.email for a in meta.bcc if a.email], in_reply_to=meta.in_reply_to,
        references=meta.references,
        direction=Direction.OUT if item.decision.outbound else Direction.IN,
        body_text=item.body_text, body_html=item.body_html, size=meta.size, origin=Origin.SYNC,
        user_id=user_id, synthetic_id=meta.synthetic_id, gm_msgid=meta.gm_msgid,
        gm_thrid=meta.gm_thrid, has_attachments=bool(meta.attachments), problems=meta.problems,
    )  # fmt: skip


Identity = tuple[str, str, str]  # (message_id, sender, fingerprint)


def identity(item: ToStore) -> Identity:
    """(message_id, sender, fingerprint): what makes two copies the same email."""
    sender = item.meta.sender
    return item.meta.message_id, sender.email if sender else "", item.meta.fingerprint


def emails_by_identity(session: Session, message_ids: set[str]) -> dict[Identity, int]:
    """Ids of the stored emails with these Message-IDs, keyed by their identity."""
    rows = session.execute(
        select(Email.message_id, Email.sender, Email.fingerprint, Email.id).where(
            Email.message_id.in_(message_ids)
        )
    ).all()
    return {(m, s, f): i for m, s, f, i in rows}


def existing_emails(session: Session, batch: list[ToStore]) -> dict[Identity, int]:
    """Ids of the batch's messages that are already stored, keyed by identity."""
    return emails_by_identity(session, {item.meta.message_id for item in batch})


def adopt_sighted_places(
    session: Session, batch: list[ToStore], known: dict[Identity, int], place: BatchPlace
) -> None:
    """A message at a place where an email with its Message-ID and sender was already seen
    is that email (a replay, a re-scan), even when its fingerprint was computed otherwise
    then (rows from before the fingerprint, or an older parser): never a second copy."""
    missing = {i.meta.uid: i for i in batch if identity(i) not in known}
    if not missing:
        return
    rows = session.execute(
        select(Sighting.uid, Email.id, Email.message_id, Email.sender)
        .join(Email, Email.id == Sighting.email_id)
        .where(
            Sighting.mailbox_id == place.mailbox_id,
            Sighting.folder == place.folder,
            Sighting.uidvalidity == place.uidvalidity,
            Sighting.uid.in_(list(missing)),
        )
    )
    for uid, email_id, message_id, sender in rows:
        key = identity(missing[uid])
        if key[:2] == (message_id, sender):
            known.setdefault(key, email_id)


def attachment_rows(
    fresh: dict[Identity, ToStore], known: dict[Identity, int]
) -> list[dict[str, Any]]:
    """Attachment rows of the new emails (their parts, not their bytes)."""
    return [
        {
            "email_id": known[key],
            "filename": p.filename or "",  # named when listed, in the viewer's language
            "content_type": p.content_type,
            "size": p.size,
            "section": p.section,
            "encoding": p.encoding,
            "content_id": p.content_id,
            "inline": p.inline,
        }
        for key, item in fresh.items()
        for p in item.meta.attachments
    ]


def insert_new_emails(
    session: Session, batch: list[ToStore], known: dict[Identity, int], user_id: int
) -> int:
    """Insert the emails not stored yet (and their attachments); fill `known` with new ids.

    One executemany for the emails and one for the attachments (a per-row INSERT ...
    RETURNING through SQLAlchemy costs ~0.5 ms per email), one indexed SELECT for the new
    ids, and adopt_replies only for the ids that really have replies stored.
    """
    threads = batch_threads(session, batch)
    fresh: dict[Identity, ToStore] = {}
    rows = []
    for item in batch:
        key, meta = identity(item), item.meta
        if key in known:
            if meta.gm_thrid:
                adopt_gmail_thread(session, known[key], meta)
            continue
        if key in fresh:
            continue
        thread = choose_thread_key(
            message_id=meta.message_id, in_reply_to=meta.in_reply_to,
            references=meta.references, known=threads, gm_thrid=meta.gm_thrid,
        )  # fmt: skip
        rows.append(stored_row(item, thread, user_id))
        threads[meta.message_id] = thread  # later messages of the batch may reply to it
        fresh[key] = item
    if not rows:
        return 0
    bulk_insert(session, Email, rows)
    mids = list({m for m, _s, _f in fresh})
    for key, email_id in emails_by_identity(session, set(mids)).items():
        if key in fresh:
            known[key] = email_id
    parents = set(
        session.scalars(select(Email.in_reply_to).where(Email.in_reply_to.in_(mids)).distinct())
    )
    for item in fresh.values():
        if not item.meta.gm_thrid and item.meta.message_id in parents:
            adopt_replies(session, item.meta.message_id, threads[item.meta.message_id])
    attachments = attachment_rows(fresh, known)
    if attachments:
        bulk_insert(session, Attachment, attachments)
    return len(rows)


def lead_links(batch: list[ToStore], leads: dict[str, int]) -> list[tuple[ToStore, int]]:
    """(message, lead id) of every lead a message of the batch links to."""
    return [
        (item, leads[key])
        for item in batch
        for a in (*item.decision.lead_addresses, *item.decision.new_lead_addresses)
        if (key := canonical_address(a)) in leads
    ]


def link_and_sight(
    session: Session,
    batch: list[ToStore],
    emails: dict[Identity, int],
    leads: dict[str, int],
    place: BatchPlace,
) -> None:
    """Record where each email was seen and which leads it involves (idempotent)."""
    sightings = [
        {
            "email_id": emails[identity(i)],
            "mailbox_id": place.mailbox_id,
            "folder": place.folder,
            "uidvalidity": place.uidvalidity,
            "uid": i.meta.uid,
        }
        for i in batch
    ]
    links = {(emails[identity(item)], lead) for item, lead in lead_links(batch, leads)}
    if sightings:
        bulk_insert(session, Sighting, sightings, "ignore")
    if links:
        rows = [{"email_id": e, "lead_id": lead} for e, lead in links]
        bulk_insert(session, EmailLead, rows, "ignore")
