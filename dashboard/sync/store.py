"""Persistence for the sync engine: emails, sightings, lead links, the skip ledger, cursors.

The commit rule: `commit_batch` writes every message of a batch (stored or skipped with
its reason) AND advances the folder cursor in the same transaction, so a crash can never
leave a message below the cursor unaccounted for. Writes are idempotent (unique keys and
INSERT OR IGNORE): replaying a batch after a crash stores nothing twice.
No Flask here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, insert, select, text, update
from sqlmodel import Session

from dashboard.mail.parse import MessageMeta
from dashboard.models import (
    Attachment,
    Email,
    EmailLead,
    FolderCursor,
    Lead,
    LeadAddress,
    Notification,
    OutgoingEmail,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    SyncLease,
    utcnow,
)
from dashboard.sync.rules import Decision, canonical_address


@dataclass
class ToStore:
    """A message the rules kept, with its decoded bodies."""

    meta: MessageMeta
    decision: Decision
    body_text: str = ""
    body_html: str = ""


@dataclass
class ToSkip:
    """A message the rules (or the parser) turned down, and why."""

    uid: int
    reason: str
    meta: MessageMeta | None = None
    detail: str = ""
    outsiders: tuple[str, ...] = ()


@dataclass
class BatchPlace:
    """Where a batch comes from."""

    mailbox_id: int
    user_id: int
    folder: str
    uidvalidity: int


@dataclass
class BatchResult:
    """What one committed batch changed."""

    stored: int = 0  # new emails
    sighted: int = 0  # already known emails seen again here
    leads_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


STATS_SQL = text("""
UPDATE lead SET
  email_count = (SELECT count(*) FROM emaillead el WHERE el.lead_id = lead.id),
  first_contact_at = (SELECT min(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                      WHERE el.lead_id = lead.id),
  last_contact_at = (SELECT max(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                     WHERE el.lead_id = lead.id),
  last_direction = (SELECT e.direction FROM email e JOIN emaillead el ON el.email_id = e.id
                    WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1),
  last_contact_user_id = (SELECT e.user_id FROM email e JOIN emaillead el ON el.email_id = e.id
                          WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1)
WHERE lead.id IN (SELECT value FROM json_each(:ids))
""")


def refresh_stats(session: Session, lead_ids: Iterable[int]) -> None:
    """Recompute the email summaries (count, first/last contact, direction) of some leads."""
    ids = sorted(set(lead_ids))
    if ids:
        session.execute(STATS_SQL, {"ids": json.dumps(ids)})


def lead_ids_for(session: Session, addresses: Iterable[str]) -> dict[str, int]:
    """Map canonical addresses to their lead's id (only those that have one)."""
    wanted = {canonical_address(a) for a in addresses} - {""}
    if not wanted:
        return {}
    rows = session.execute(
        select(LeadAddress.address, LeadAddress.lead_id).where(LeadAddress.address.in_(wanted))
    )
    return dict(rows.all())


def create_leads(
    session: Session, people: dict[str, str], *, owner_id: int, state: str
) -> dict[str, int]:
    """Create one lead per new address (name from the message) and index its address."""
    created: dict[str, int] = {}
    for address, name in people.items():
        lead = Lead(
            name=name or address.split("@")[0], owner_id=owner_id, source="sync", state=state
        )
        session.add(lead)
        session.flush()
        session.add(LeadAddress(lead_id=lead.id, address=address))
        created[address] = lead.id
    if created:
        session.flush()
        mark_relink(session, created)
    return created


RELINKABLE = ("no_lead", "automated")  # reasons a lead appearing later overturns


def forget_folder(session: Session, mailbox_id: int, folder: str, uidvalidity: int) -> None:
    """Drop sightings and ledger rows of a folder's dead UIDVALIDITY (its UIDs mean nothing now)."""
    for model in (Sighting, SkippedMessage):
        session.execute(
            delete(model).where(
                model.mailbox_id == mailbox_id,
                model.folder == folder,
                model.uidvalidity != uidvalidity,
            )
        )


def claimed(session: Session, addresses: Iterable[str]) -> bool:
    """True when a (not dismissed) lead already has one of these addresses."""
    wanted = {canonical_address(a) for a in addresses} - {""}
    if not wanted:
        return False
    row = session.execute(
        select(LeadAddress.id)
        .join(Lead)
        .where(LeadAddress.address.in_(wanted), Lead.state != "dismissed")
        .limit(1)
    ).first()
    return row is not None


def mark_relink(session: Session, addresses: Iterable[str]) -> int:
    """Flag "no lead" skips involving these addresses: the next round fetches and links them."""
    wanted = list({canonical_address(a) for a in addresses} - {""})
    if not wanted:
        return 0
    ids = select(SkippedAddress.skipped_id).where(SkippedAddress.address.in_(wanted))
    result = session.execute(
        update(SkippedMessage)
        .where(SkippedMessage.id.in_(ids), SkippedMessage.reason.in_(RELINKABLE))
        .values(relink=True)
    )
    return result.rowcount or 0


def display_names(meta: MessageMeta) -> dict[str, str]:
    """Names shown next to each address in the message."""
    groups = (meta.from_, meta.to, meta.cc, meta.bcc)
    return {canonical_address(a.email): a.name for g in groups for a in g if a.email}


def resolve_leads(
    session: Session,
    batch: list[ToStore],
    *,
    owner_id: int,
    state: str,
    promised: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], int]:
    """Lead ids for every address the batch links to, creating the new leads first.

    `promised`: leads another lane of this round decided to create. A message here may
    link to one before that lane has committed it: then this commit creates it (the other
    lane finds it when its turn comes), or the link would be lost.
    """
    wanted = {
        canonical_address(a)
        for item in batch
        for a in (*item.decision.lead_addresses, *item.decision.new_lead_addresses)
    }
    known = lead_ids_for(session, wanted)
    people: dict[str, str] = {}
    for item in batch:
        names = display_names(item.meta)
        linked = (a for a in item.decision.lead_addresses if canonical_address(a) in promised)
        for address in (*item.decision.new_lead_addresses, *linked):
            key = canonical_address(address)
            if key not in known:
                people.setdefault(key, names.get(key, ""))
    known.update(create_leads(session, people, owner_id=owner_id, state=state))
    return known, len(people)


def thread_keys(session: Session, batch: list[ToStore]) -> dict[str, str]:
    """Thread key of every message id the batch refers to (known emails and the batch)."""
    refs = {r for item in batch for r in (*item.meta.references, item.meta.in_reply_to or "")}
    refs.discard("")
    known = (
        dict(
            session.execute(
                select(Email.message_id, Email.thread_key).where(Email.message_id.in_(refs))
            ).all()
        )
        if refs
        else {}
    )
    return known


def thread_key_of(meta: MessageMeta, known: dict[str, str]) -> str:
    """Gmail's thread id when given; else the thread of the first known reference; else own id."""
    if meta.gm_thrid:
        return f"gm:{meta.gm_thrid}"
    candidates = [*meta.references, *([meta.in_reply_to] if meta.in_reply_to else [])]
    return next((known[r] for r in candidates if r in known), meta.message_id)


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
    new = f"gm:{meta.gm_thrid}"
    session.execute(
        update(Email)
        .where(Email.id == email_id)
        .values(gm_thrid=meta.gm_thrid, gm_msgid=meta.gm_msgid)
    )
    session.execute(update(Email).where(Email.thread_key == old).values(thread_key=new))


def bulk_insert(session: Session, model: type, rows: list[dict], prefix: str = "") -> None:
    """One executemany of plain rows on the session's connection, in its transaction.

    Core, not the ORM's bulk insert: the ORM sorts and checks every row against the mapper
    first, which was ~9% of a first sync's CPU (py-spy, 10,000 messages). The rows carry
    every NOT NULL column themselves (email_row, ...), so no model defaults are skipped.
    """
    statement = model.__table__.insert()  # type: ignore[attr-defined]
    if prefix:
        statement = statement.prefix_with(prefix)
    session.connection().execute(statement, rows)


def email_row(item: ToStore, thread_key: str, user_id: int) -> dict:
    """Column values of a new Email."""
    meta, sender = item.meta, item.meta.sender
    return {
        "message_id": meta.message_id,
        "sender": sender.email if sender else "",
        "synthetic_id": meta.synthetic_id,
        "thread_key": thread_key,
        "gm_msgid": meta.gm_msgid,
        "gm_thrid": meta.gm_thrid,
        "subject": meta.subject,
        "date": meta.date,
        "from_name": sender.name if sender else "",
        "to_addrs": [a.email for a in meta.to if a.email],
        "cc_addrs": [a.email for a in meta.cc if a.email],
        "bcc_addrs": [a.email for a in meta.bcc if a.email],
        "in_reply_to": meta.in_reply_to,
        "references": list(meta.references),
        "direction": "out" if item.decision.outbound else "in",
        "body_text": item.body_text,
        "body_html": item.body_html,
        "size": meta.size,
        "has_attachments": bool(meta.attachments),
        "problems": list(meta.problems),
        "origin": "sync",
        "user_id": user_id,
        "created_at": utcnow(),
    }


def existing_emails(session: Session, batch: list[ToStore]) -> dict[tuple[str, str], int]:
    """Ids of the batch's messages that are already stored, keyed by (message_id, sender)."""
    ids = {item.meta.message_id for item in batch}
    rows = session.execute(
        select(Email.message_id, Email.sender, Email.id).where(Email.message_id.in_(ids))
    ).all()
    return {(m, s): i for m, s, i in rows}


def identity(item: ToStore) -> tuple[str, str]:
    """(message_id, sender): what makes two copies the same email."""
    sender = item.meta.sender
    return item.meta.message_id, sender.email if sender else ""


def insert_new_emails(
    session: Session, batch: list[ToStore], known: dict[tuple[str, str], int], user_id: int
) -> int:
    """Insert the emails not stored yet (and their attachments); fill `known` with new ids.

    One executemany for the emails and one for the attachments (a per-row INSERT ...
    RETURNING through SQLAlchemy costs ~0.5 ms per email), one indexed SELECT for the new
    ids, and adopt_replies only for the ids that really have replies stored.
    """
    threads = thread_keys(session, batch)
    fresh: dict[tuple[str, str], ToStore] = {}
    rows = []
    for item in batch:
        key = identity(item)
        if key in known:
            if item.meta.gm_thrid:
                adopt_gmail_thread(session, known[key], item.meta)
            continue
        if key in fresh:
            continue
        thread = thread_key_of(item.meta, threads)
        rows.append(email_row(item, thread, user_id))
        threads[item.meta.message_id] = thread
        fresh[key] = item
    if not rows:
        return 0
    bulk_insert(session, Email, rows)
    mids = list({m for m, _s in fresh})
    for message_id, sender, email_id in session.execute(
        select(Email.message_id, Email.sender, Email.id).where(Email.message_id.in_(mids))
    ):
        if (message_id, sender) in fresh:
            known[(message_id, sender)] = email_id
    parents = set(
        session.scalars(select(Email.in_reply_to).where(Email.in_reply_to.in_(mids)).distinct())
    )
    for item in fresh.values():
        if not item.meta.gm_thrid and item.meta.message_id in parents:
            adopt_replies(session, item.meta.message_id, threads[item.meta.message_id])
    attachments = [
        {
            "email_id": known[key],
            "filename": p.filename or "attachment",
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
    if attachments:
        bulk_insert(session, Attachment, attachments)
    return len(rows)


def link_and_sight(
    session: Session,
    batch: list[ToStore],
    emails: dict[tuple[str, str], int],
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
    links = {
        (emails[identity(i)], leads[canonical_address(a)])
        for i in batch
        for a in (*i.decision.lead_addresses, *i.decision.new_lead_addresses)
        if canonical_address(a) in leads
    }
    if sightings:
        bulk_insert(session, Sighting, sightings, "OR IGNORE")
    if links:
        rows = [{"email_id": e, "lead_id": lead} for e, lead in links]
        bulk_insert(session, EmailLead, rows, "OR IGNORE")


def record_skips(session: Session, skips: list[ToSkip], place: BatchPlace) -> None:
    """Write the ledger rows (replacing an earlier verdict on the same message).

    One query for the claimed addresses, one executemany, one SELECT of the new ids, one
    executemany of addresses (instead of 2-3 statements per skipped message).
    """
    if not skips:
        return
    outsiders = {canonical_address(a) for s in skips for a in s.outsiders} - {""}
    taken = (
        set(
            session.scalars(
                select(LeadAddress.address)
                .join(Lead)
                .where(LeadAddress.address.in_(list(outsiders)), Lead.state != "dismissed")
            )
        )
        if outsiders
        else set()
    )
    now = utcnow()
    rows = []
    for skip in skips:
        meta = skip.meta
        mine = {canonical_address(a) for a in skip.outsiders} - {""}
        rows.append(
            {
                "mailbox_id": place.mailbox_id,
                "folder": place.folder,
                "uidvalidity": place.uidvalidity,
                "uid": skip.uid,
                "reason": skip.reason,
                "detail": skip.detail[:1000],
                "addresses": list(skip.outsiders),
                "message_id": meta.message_id if meta else "",
                "date": meta.date if meta else None,
                "subject": meta.subject if meta else "",
                "sender": meta.sender.email if meta and meta.sender else "",
                # A lead created since this batch was classified (another mailbox, another
                # lane) already ran mark_relink: flag the row now or it is never linked.
                "relink": skip.reason in RELINKABLE and bool(mine & taken),
                "created_at": now,
            }
        )
    bulk_insert(session, SkippedMessage, rows, "OR REPLACE")
    wanted = {skip.uid: skip for skip in skips if skip.outsiders}
    if not wanted:
        return
    ids = session.execute(
        select(SkippedMessage.uid, SkippedMessage.id).where(
            SkippedMessage.mailbox_id == place.mailbox_id,
            SkippedMessage.folder == place.folder,
            SkippedMessage.uidvalidity == place.uidvalidity,
            SkippedMessage.uid.in_(list(wanted)),
        )
    ).all()
    addresses = [
        {"skipped_id": skipped_id, "address": address}
        for uid, skipped_id in ids
        for address in sorted({canonical_address(a) for a in wanted[uid].outsiders} - {""})
    ]
    if addresses:
        bulk_insert(session, SkippedAddress, addresses, "OR IGNORE")


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


def forget_skips(session: Session, place: BatchPlace, uids: list[int]) -> None:
    """Drop ledger rows of messages that are now stored (retroactive linking)."""
    if uids:
        session.execute(
            delete(SkippedMessage).where(
                SkippedMessage.mailbox_id == place.mailbox_id,
                SkippedMessage.folder == place.folder,
                SkippedMessage.uidvalidity == place.uidvalidity,
                SkippedMessage.uid.in_(uids),
            )
        )


def commit_batch(
    session: Session,
    place: BatchPlace,
    stored: list[ToStore],
    skipped: list[ToSkip],
    *,
    last_uid: int | None,
    lead_state: str,
    promised: frozenset[str] = frozenset(),
) -> BatchResult:
    """Write one batch and move the cursor to `last_uid`, all in the caller's transaction."""
    result = BatchResult()
    leads, result.leads_created = resolve_leads(
        session, stored, owner_id=place.user_id, state=lead_state, promised=promised
    )
    emails = existing_emails(session, stored) if stored else {}
    before = len(emails)
    result.stored = insert_new_emails(session, stored, emails, place.user_id)
    result.sighted = len({identity(i) for i in stored}) - result.stored if before else 0
    link_and_sight(session, stored, emails, leads, place)
    notify_replies(session, [i for i in stored if not i.decision.outbound and i.meta.in_reply_to])
    refresh_stats(
        session,
        {
            leads[canonical_address(a)]
            for i in stored
            for a in (*i.decision.lead_addresses, *i.decision.new_lead_addresses)
            if canonical_address(a) in leads
        },
    )
    forget_skips(session, place, [i.meta.uid for i in stored])
    record_skips(session, skipped, place)
    for skip in skipped:
        result.skipped[skip.reason] = result.skipped.get(skip.reason, 0) + 1
    if last_uid is not None:
        advance_cursor(session, place, last_uid, len(stored) + len(skipped))
    return result


def cursor_for(session: Session, mailbox_id: int, folder: str) -> FolderCursor:
    """The folder's cursor, created at zero the first time."""
    cursor = session.scalars(
        select(FolderCursor).where(
            FolderCursor.mailbox_id == mailbox_id, FolderCursor.folder == folder
        )
    ).first()
    return cursor or FolderCursor(mailbox_id=mailbox_id, folder=folder)


def advance_cursor(session: Session, place: BatchPlace, last_uid: int, processed: int) -> None:
    """Move the cursor forward (never backward) and count progress."""
    session.execute(
        update(FolderCursor)
        .where(
            FolderCursor.mailbox_id == place.mailbox_id,
            FolderCursor.folder == place.folder,
            FolderCursor.last_uid < last_uid,
        )
        .values(last_uid=last_uid, updated_at=utcnow(), done=FolderCursor.done + processed)
    )


def take_lease(session: Session, mailbox_id: int, holder: str, seconds: float) -> bool:
    """Become the only syncer of a mailbox until the lease expires; False if someone else is."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    session.execute(
        insert(SyncLease)
        .prefix_with("OR IGNORE")
        .values(mailbox_id=mailbox_id, holder=holder, expires_at=expires)
    )
    taken = session.execute(
        update(SyncLease)
        .where(
            SyncLease.mailbox_id == mailbox_id,
            (SyncLease.holder == holder) | (SyncLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    )
    return taken.rowcount == 1


def lease_holder(session: Session, mailbox_id: int) -> str | None:
    """Who holds the mailbox's lease (expired or not)."""
    return session.scalar(select(SyncLease.holder).where(SyncLease.mailbox_id == mailbox_id))


def release_lease(session: Session, mailbox_id: int, holder: str) -> None:
    """Give the lease back (only if we still hold it)."""
    session.execute(
        delete(SyncLease).where(SyncLease.mailbox_id == mailbox_id, SyncLease.holder == holder)
    )
