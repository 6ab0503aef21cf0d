"""Committing one batch: the commit rule of the sync.

The commit rule: `commit_batch` writes every message of a batch (stored, or skipped with
its reason) AND advances the folder cursor in the same transaction, the caller's, so a
crash can never leave a message below the cursor unaccounted for. Every write is
idempotent (unique keys and INSERT OR IGNORE / OR REPLACE): replaying a batch after a
crash stores nothing twice. The order inside matters: leads before links, emails before
sightings, the ledger after the stored messages left it, the cursor last.

Every message accounted for: each message of the batch is counted once, as stored (a new
email), seen again (an email already stored, or one this batch holds twice) or skipped by
reason, and leaves a Sighting or a ledger row at its place. `commit_batch` checks the
rows before it returns and logs any message without one as an error; it never fails the
batch for it (the messages are written; only the books would be wrong).
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from dashboard.db.dialect import SYNC_COMMITS, take_turn
from dashboard.sync.accounting import unaccounted
from dashboard.sync.store.batch import BatchPlace, BatchResult, ToSkip, ToStore
from dashboard.sync.store.cursors import advance_cursor
from dashboard.sync.store.emails import (
    adopt_sighted_places,
    existing_emails,
    identity,
    insert_new_emails,
    lead_links,
    link_and_sight,
)
from dashboard.sync.store.leads import refresh_stats, resolve_leads
from dashboard.sync.store.ledger import forget_skips, places_with_rows, record_skips
from dashboard.sync.store.notifications import notify_replies

log = logging.getLogger(__name__)


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
    # A batch reads which emails and leads exist, then adds the missing ones: two batches
    # doing that at once would both add the same email or lead. SQLite's single writer
    # keeps them apart; on PostgreSQL this lock does, across lanes and processes.
    take_turn(session, SYNC_COMMITS)
    result = BatchResult()
    leads, result.leads_created = resolve_leads(
        session, stored, owner_id=place.user_id, state=lead_state, promised=promised
    )
    emails = existing_emails(session, stored) if stored else {}
    adopt_sighted_places(session, stored, emails, place)
    known_before = set(emails)
    result.stored = insert_new_emails(session, stored, emails, place.user_id)
    result.seen_again = len(stored) - result.stored  # every other copy, in-batch ones too
    link_and_sight(session, stored, emails, leads, place)
    # Only emails this batch stored for the first time: the same reply seen again in
    # another folder (Gmail's "All Mail") or another rep's mailbox was announced already.
    first_seen = [i for i in stored if identity(i) not in known_before]
    notify_replies(
        session, [i for i in first_seen if not i.decision.outbound and i.meta.in_reply_to]
    )
    refresh_stats(session, {lead for _item, lead in lead_links(stored, leads)})
    forget_skips(session, place, [i.meta.uid for i in stored])
    record_skips(session, skipped, place)
    for skip in skipped:
        result.skipped[skip.reason] = result.skipped.get(skip.reason, 0) + 1
    if last_uid is not None:
        advance_cursor(session, place, last_uid, len(stored) + len(skipped))
    check_accounted(session, place, [i.meta.uid for i in stored] + [s.uid for s in skipped])
    return result


def check_accounted(session: Session, place: BatchPlace, uids: list[int]) -> None:
    """Log, loudly, every message of the batch that left neither a Sighting nor a ledger row."""
    if not uids:
        return
    sighted, ledgered = places_with_rows(session, place, uids)
    missing = unaccounted(uids, sighted, ledgered)
    if missing:
        log.error(
            "%d message(s) of mailbox %s folder %r (UIDVALIDITY %s) left no sighting and no "
            "ledger row: UIDs %s",
            len(missing), place.mailbox_id, place.folder, place.uidvalidity, missing[:50],
        )  # fmt: skip
