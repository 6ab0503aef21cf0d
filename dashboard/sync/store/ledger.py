"""The skip ledger: every message the sync did not store, with its reason, so that "why is
this email not here?" has an answer and a lead added later can claim its past mail.

Invariants: one row per (mailbox, folder, UIDVALIDITY, UID), replaced by a later verdict
and deleted once the message is stored. The retention applies to the ledger as to emails:
a row is as old as its message's date, or as its own `created_at` when the date is unknown
(a message the parser could not read); older rows are purged (sync/retention.py). A
"no lead" (or "automated") row whose addresses gain a lead is flagged `relink`: the next
round fetches it again and links it. Addresses are kept in canonical form
(mail/addresses.py), as lead addresses are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, true, update
from sqlmodel import Session

from dashboard.mail.addresses import canonical_address
from dashboard.models import Lead, LeadAddress, Sighting, SkippedAddress, SkippedMessage, utcnow
from dashboard.states import LeadState, SkipReason
from dashboard.sync.store.batch import BatchPlace, ToSkip
from dashboard.sync.store.rows import bulk_insert

SKIP_PLACE = ("mailbox_id", "folder", "uidvalidity", "uid")  # the ledger's unique key

RELINKABLE = (SkipReason.NO_LEAD, SkipReason.AUTOMATED)  # overturned by a later lead


def ledger_age() -> ColumnElement[datetime]:
    """What the retention dates a ledger row by: its message's date, else when it was written."""
    return func.coalesce(SkippedMessage.date, SkippedMessage.created_at)


def within_retention(horizon: datetime | None) -> ColumnElement[bool]:
    """Ledger rows the retention keeps (all of them with no horizon)."""
    return true() if horizon is None else ledger_age() >= horizon


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


def claimed_addresses(session: Session, addresses: set[str]) -> set[str]:
    """Those of these canonical addresses that a (not dismissed) lead has."""
    if not addresses:
        return set()
    return set(
        session.scalars(
            select(LeadAddress.address)
            .join(Lead)
            .where(LeadAddress.address.in_(list(addresses)), Lead.state != LeadState.DISMISSED)
        )
    )


def record_skips(session: Session, skips: list[ToSkip], place: BatchPlace) -> None:
    """Write the ledger rows (replacing an earlier verdict on the same message).

    One query for the claimed addresses, one executemany, one SELECT of the new ids, one
    executemany of addresses (instead of 2-3 statements per skipped message).
    """
    if not skips:
        return
    taken = claimed_addresses(
        session, {canonical_address(a) for s in skips for a in s.outsiders} - {""}
    )
    now = utcnow()
    rows = []
    for skip in skips:
        # A never-log message leaves no trace of who wrote it or what about: the list is how an
        # erased person's mail stays out (leads/erasure.py), so the ledger keeps only its place.
        meta = None if skip.reason == SkipReason.NEVER_LOG else skip.meta
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
                "date": skip.meta.date if skip.meta else None,  # the day, to find it by
                "subject": meta.subject if meta else "",
                "sender": meta.sender.email if meta and meta.sender else "",
                # A lead created since this batch was classified (another mailbox, another
                # lane) already ran mark_relink: flag the row now or it is never linked.
                "relink": skip.reason in RELINKABLE and bool(mine & taken),
                "created_at": now,
            }
        )
    bulk_insert(session, SkippedMessage, rows, "replace", SKIP_PLACE)
    record_addresses(session, skips, place)


def record_addresses(session: Session, skips: list[ToSkip], place: BatchPlace) -> None:
    """Index the outsiders of freshly written ledger rows (what mark_relink searches)."""
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
        bulk_insert(session, SkippedAddress, addresses, "ignore")


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


def places_with_rows(session: Session, place: BatchPlace, uids: list[int]) -> tuple[set, set]:
    """Of these UIDs of the batch's folder: those with a Sighting, those with a ledger row."""
    found = []
    for model in (Sighting, SkippedMessage):
        found.append(
            set(
                session.scalars(
                    select(model.uid).where(
                        model.mailbox_id == place.mailbox_id,
                        model.folder == place.folder,
                        model.uidvalidity == place.uidvalidity,
                        model.uid.in_(uids),
                    )
                )
            )
        )
    return found[0], found[1]
