"""One mailbox's sync: client -> parse -> rules -> store, one committed batch at a time.

Invariants:
- The cursor rule: a folder's last UID only moves in the transaction that stores, or
  records the skip of, every message below it (store.commit_batch).
- A round with nothing new costs one connection, one STATUS per folder and no EXAMINE,
  SEARCH, FETCH or write (folders_with_work).
- A UIDVALIDITY change re-scans the import window; dedupe (message id + sender +
  fingerprint, unique sightings) makes replays harmless, so a crash at any step loses and
  doubles nothing.
- One message that breaks the parser (any exception, while reading its headers or decoding
  its body) is recorded as a parse error with the exception's text; its batch goes on.
- Every message accounted for (sync/accounting.py): a folder's report counts each message
  fetched this round once, as stored, seen again or skipped by reason. A skip this round's
  relink pass fetches again is taken back from its first verdict, not counted twice.
No Flask here: the scheduler and the CLI hand in an engine, the settings and the secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Engine, select

from dashboard.db.engine import read_session, write_session
from dashboard.mail import imap_fetch as imap
from dashboard.mail.addresses import canonical_address
from dashboard.mail.body_text import join_html, join_text
from dashboard.mail.files import header_section, nameless, with_header_names
from dashboard.mail.imap_client import Connection, connect
from dashboard.mail.mime import Part
from dashboard.mail.net import ServerSettings
from dashboard.mail.parse import (
    MessageMeta,
    RawFetch,
    decode_part,
    html_to_text,
    meta_from_fetch,
)
from dashboard.models import FolderCursor, SkippedMessage, utcnow
from dashboard.states import LeadState, SkipReason
from dashboard.sync.rules import (
    FolderMark,
    MessageFacts,
    SyncPolicy,
    decide,
    folder_is_current,
    kept_by_retention,
)
from dashboard.sync.store.batch import BatchPlace, ToSkip, ToStore
from dashboard.sync.store.commit import commit_batch
from dashboard.sync.store.cursors import cursor_for, cursors_of
from dashboard.sync.store.leads import known_lead_addresses
from dashboard.sync.store.ledger import forget_folder, within_retention

log = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass
class FolderReport:
    """What one folder's sync did."""

    folder: str
    fetched: int = 0
    stored: int = 0
    seen_again: int = 0
    leads_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add_skips(self, counts: dict[str, int], sign: int = 1) -> None:
        """Add (or with sign -1 take back) skip counts by reason; no zero entries remain."""
        for reason, n in counts.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + sign * n
            if not self.skipped[reason]:
                del self.skipped[reason]


@dataclass
class MailboxJob:
    """Everything one mailbox's round needs, read from the database at the round's start."""

    mailbox_id: int
    user_id: int
    settings: ServerSettings
    folders: list[str]
    owner_addresses: tuple[str, ...]
    policy: SyncPolicy
    known_leads: set[str]  # canonical; sync_mailbox reads them once a folder has work
    import_since: date  # already moved up to the retention horizon (rules.window_start)
    rescan_since: date | None = None  # likewise
    gmail: bool = False
    lead_state: str = LeadState.ACTIVE
    connections: int = 2
    batch_size: int = BATCH_SIZE
    # Progress: told each step done (fetch_headers, fetch_bodies, commit, finish) by its lane.
    on_step: Callable[[str], None] = lambda step: None
    on_batch: Callable[..., None] = lambda session=None: None  # renews the lease
    # Two folders may meet the same new person at once: the rules take turns on known_leads.
    lead_lock: threading.Lock = field(default_factory=threading.Lock)
    # Leads a lane decided to create this round. The other lane may link to one before the
    # batch that creates it is committed; its own commit then creates it (see resolve_leads).
    promised_leads: set[str] = field(default_factory=set)
    # When the round began: ledger rows written since are this round's own verdicts.
    started_at: datetime = field(default_factory=utcnow)
    # Retention (rules.retention_horizon): older messages are neither stored nor put in the
    # ledger, so mail the daily purge deleted never comes back. None keeps everything.
    horizon: datetime | None = None


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_error(uid: int, error: Exception, meta: MessageMeta | None = None) -> ToSkip:
    """The ledger entry of a message that could not be read: the exception, as text."""
    detail = f"{type(error).__name__}: {error}".replace("\x00", "")
    return ToSkip(uid, SkipReason.PARSE_ERROR, meta, detail=detail)


def facts_of(meta: MessageMeta) -> MessageFacts:
    """The plain facts the rules look at."""
    sender = meta.sender.email if meta.sender else ""
    return MessageFacts(
        sender,
        tuple(a.email for a in (*meta.to, *meta.cc) if a.email),
        tuple(a.email for a in meta.bcc if a.email),
        meta.automated,
        meta.size,
    )


def decode_bodies(item: ToStore, parts: dict[str, bytes]) -> None:
    """Fill in the decoded text and HTML bodies of one message from its fetched parts."""
    meta = item.meta
    decoded = {p.section: decode_part(parts.get(p.section, b""), p) for p in body_parts(meta)}
    if meta.text_parts:
        item.body_text = join_text([decoded[p.section] for p in meta.text_parts])
    if meta.html_parts:
        item.body_html = join_html([(p, decoded[p.section]) for p in meta.html_parts])
        item.body_text = item.body_text or html_to_text(item.body_html)
    if nameless(meta.attachments):
        item.meta = replace(meta, attachments=with_header_names(meta.attachments, parts))


def mark_of(cursor: FolderCursor, status: imap.FolderStatus) -> FolderMark:
    """A folder's cursor beside what the server says of it now."""
    return FolderMark(
        cursor.uidvalidity, cursor.last_uid, cursor.done, cursor.total,
        status.uidvalidity, status.uidnext,
    )  # fmt: skip


def body_parts(meta: MessageMeta) -> tuple[Part, ...]:
    """Every part the body is made of (text and HTML), each once."""
    return tuple({p.section: p for p in (*meta.text_parts, *meta.html_parts)}.values())


def wanted_sections(meta: MessageMeta) -> tuple[str, ...]:
    """What to fetch of a message being stored: its body parts, and the MIME header of each
    attachment BODYSTRUCTURE gave no name (a malformed Content-Type loses its parameters)."""
    headers = (header_section(part) for part in nameless(meta.attachments))
    return (*(part.section for part in body_parts(meta)), *headers)


class FolderSync:
    """Syncs one folder over one connection."""

    def __init__(self, engine: Engine, job: MailboxJob, client: Connection, folder: str) -> None:
        self.engine, self.job, self.client, self.folder = engine, job, client, folder
        self.report = FolderReport(folder)
        self.place: BatchPlace | None = None
        self.counted: dict[int, str] = {}  # UID -> reason: skips this round already counted

    def run(self) -> FolderReport:
        """Bring the folder up to date (relinks first, then new messages)."""
        started = time.perf_counter()
        status = imap.examine(self.client, self.folder)
        uids = self.plan(status)
        self.place = BatchPlace(
            self.job.mailbox_id, self.job.user_id, self.folder, status.uidvalidity
        )
        relinks = self.pending_relinks(status.uidvalidity)
        for batch in chunks(relinks, self.job.batch_size):
            self.process(batch, last_uid=None)
        for batch in chunks(uids, self.job.batch_size):
            self.process(batch, last_uid=batch[-1])
        if uids or relinks:
            self.finish(status)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def plan(self, status: imap.FolderStatus) -> list[int]:
        """UIDs to fetch: nothing when UIDNEXT says nothing is new (no SEARCH, no FETCH)."""
        with write_session(self.engine) as session:
            cursor = cursor_for(session, self.job.mailbox_id, self.folder)
            rescan = self.job.rescan_since
            if folder_is_current(mark_of(cursor, status), rescan=bool(rescan)):
                return []
            reset = cursor.uidvalidity != status.uidvalidity
            resuming = not reset and cursor.done < cursor.total  # a windowed pass was cut short
            if reset or rescan or resuming:
                since = rescan or self.job.import_since
                floor = cursor.last_uid if resuming and not rescan else 0
                uids = [u for u in imap.search_since(self.client, since) if u > floor]
                if reset:
                    forget_folder(session, self.job.mailbox_id, self.folder, status.uidvalidity)
                    cursor.uidvalidity, cursor.last_uid = status.uidvalidity, 0
            else:
                uids = imap.search_above(self.client, cursor.last_uid)
            if rescan and not reset:
                cursor.last_uid = 0  # replays are harmless; the cursor catches up batch by batch
            if not uids:  # nothing in the window: everything below UIDNEXT is accounted for
                cursor.last_uid = max(cursor.last_uid, status.uidnext - 1)
            done = cursor.done if resuming and not rescan else 0
            cursor.total, cursor.done = done + len(uids), done
            cursor.highestmodseq, cursor.updated_at = status.highestmodseq, utcnow()
            session.add(cursor)
        return uids

    def pending_relinks(self, uidvalidity: int) -> list[int]:
        """UIDs of "no lead" skips that a new lead now claims.

        Remembers the reason of those this round already counted (its own ledger rows): the
        relink pass takes them back from the report instead of counting them twice.
        """
        with write_session(self.engine) as session:
            rows = session.execute(
                select(SkippedMessage.uid, SkippedMessage.reason, SkippedMessage.created_at).where(
                    SkippedMessage.mailbox_id == self.job.mailbox_id,
                    SkippedMessage.folder == self.folder,
                    SkippedMessage.relink,
                    SkippedMessage.uidvalidity == uidvalidity,
                    within_retention(self.job.horizon),
                )
            ).all()
        since = self.job.started_at
        self.counted = {uid: reason for uid, reason, written in rows if written >= since}
        return sorted(uid for uid, _reason, _written in rows)

    def classify(self, raws: list[RawFetch]) -> tuple[list[ToStore], list[ToSkip]]:
        """Parse and apply the rules; a message that breaks the parser becomes a skip. A
        message older than the retention is neither: it is taken out of the round's fetched
        count, so the round still adds up (accounting.adds_up)."""
        stored, skipped = [], []
        for raw in raws:
            try:
                meta = meta_from_fetch(raw)
                if not kept_by_retention(meta.date, self.job.horizon):
                    # Older than the retention: purged (or about to be), so it is neither
                    # stored nor recorded; the cursor still moves past it.
                    self.report.fetched -= 1
                    continue
                decision = decide(
                    facts_of(meta), self.job.owner_addresses, self.job.known_leads, self.job.policy
                )
            except Exception as error:  # any: one unreadable message never stops the batch
                skipped.append(parse_error(raw.uid, error))
                continue
            if decision.store:
                new_leads = {canonical_address(a) for a in decision.new_lead_addresses}
                self.job.known_leads.update(new_leads)
                self.job.promised_leads.update(new_leads)
                stored.append(ToStore(meta, decision))
            else:
                skipped.append(
                    ToSkip(
                        raw.uid,
                        decision.reason or SkipReason.NO_LEAD,
                        meta,
                        outsiders=decision.outsiders,
                    )
                )
        return stored, skipped

    def fetch_bodies(self, stored: list[ToStore]) -> list[ToSkip]:
        """Download and decode only the text parts of the messages being stored (and the
        MIME headers of their nameless attachments).

        Returns the messages whose body could not be decoded, as parse errors: the caller
        drops them from `stored`.
        """
        wanted = {i.meta.uid: wanted_sections(i.meta) for i in stored}
        if not any(wanted.values()):
            return []
        bodies = imap.fetch_sections(self.client, wanted)
        self.job.on_step("fetch_bodies")
        failed = []
        for item in stored:
            try:
                decode_bodies(item, bodies.get(item.meta.uid, {}))
            except Exception as error:  # any: one unreadable body never stops the batch
                failed.append(parse_error(item.meta.uid, error, item.meta))
        return failed

    def process(self, uids: list[int], last_uid: int | None) -> None:
        """Fetch, decide and commit one batch (cursor to `last_uid` unless it is a relink)."""
        raws = imap.fetch_headers(self.client, uids, gmail=self.job.gmail)
        self.job.on_step("fetch_headers")
        self.take_back_counted([raw.uid for raw in raws])
        self.report.fetched += len(raws)
        with self.job.lead_lock:  # two folders may meet the same new person at once
            stored, skipped = self.classify(raws)
            promised = frozenset(self.job.promised_leads)
        unreadable = self.fetch_bodies(stored)
        if unreadable:
            dropped = {skip.uid for skip in unreadable}
            stored = [item for item in stored if item.meta.uid not in dropped]
            skipped += unreadable
        # No lock here: the write transaction (BEGIN IMMEDIATE) already serialises commits,
        # and a lead promised by the other lane is created by whichever commit comes first.
        # Holding lead_lock over the commit made each lane wait ~0.8 s per 10,000 messages.
        with write_session(self.engine) as session:
            result = commit_batch(
                session,
                self.place,
                stored,
                skipped,
                last_uid=last_uid,
                lead_state=self.job.lead_state,
                promised=promised,
            )
            self.job.on_batch(session)  # renew the lease in the same transaction
        self.job.on_step("commit")
        self.report.stored += result.stored
        self.report.seen_again += result.seen_again
        self.report.leads_created += result.leads_created
        self.report.add_skips(result.skipped)

    def take_back_counted(self, uids: list[int]) -> None:
        """Messages this round already counted as skipped are fetched again (relink): their
        new verdict replaces the old one in the report, so each is counted once."""
        again = [self.counted.pop(uid) for uid in uids if uid in self.counted]
        if again:
            self.report.fetched -= len(again)
            self.report.add_skips({r: again.count(r) for r in set(again)}, sign=-1)

    def finish(self, status: imap.FolderStatus) -> None:
        """Everything below UIDNEXT is accounted for (or outside the import window)."""
        with write_session(self.engine) as session:
            cursor = cursor_for(session, self.job.mailbox_id, self.folder)
            cursor.last_uid = max(cursor.last_uid, status.uidnext - 1)
            cursor.done = cursor.total
            session.add(cursor)
        self.job.on_step("finish")


def use_condstore(client: Connection) -> None:
    """Ask for CONDSTORE, so EXAMINE reports HIGHESTMODSEQ (RFC 7162); before any EXAMINE."""
    if client.has_capability("CONDSTORE"):
        client.enable("CONDSTORE")


def sync_folders(
    engine: Engine, job: MailboxJob, folders: list[str], client: Connection | None = None
) -> list[FolderReport]:
    """Sync folders one after another over a single connection (a new one unless given)."""
    if client is None:
        with connect(job.settings) as own:
            use_condstore(own)
            return sync_folders(engine, job, folders, own)
    return [FolderSync(engine, job, client, folder).run() for folder in folders]


def folders_with_work(engine: Engine, job: MailboxJob, client: Connection) -> list[str]:
    """The folders this round has something to do in: a STATUS per folder against its cursor
    (rules.folder_is_current), and the skips a new lead now claims. The others cost no
    EXAMINE and no write transaction: a round with nothing new is one connection, a STATUS
    per folder and two indexed reads."""
    relinks = set(folders_with_relinks(engine, job.mailbox_id, job.horizon))
    with read_session(engine) as session:
        cursors = cursors_of(session, job.mailbox_id, job.folders)
    rescan = job.rescan_since is not None
    return [
        folder
        for folder in job.folders
        if folder in relinks
        or not folder_is_current(mark_of(cursors[folder], imap.status(client, folder)), rescan)
    ]


def sync_mailbox(engine: Engine, job: MailboxJob) -> list[FolderReport]:
    """Sync every folder with something to do over at most `job.connections` (max 2)
    connections; the first is the one that asked the folders' STATUS.

    Folders run in parallel, so one may skip a reply ("no lead") just before the other
    creates that lead from our sent mail; a second pass links such messages right away.
    """
    imap.install()  # idempotent: imapclient's own lexer and parser were most of a first sync's CPU
    with connect(job.settings) as client:
        busy = folders_with_work(engine, job, client)
        if not busy:
            return [FolderReport(folder) for folder in job.folders]
        with read_session(engine) as session:  # thousands at 50,000 messages: only now
            job.known_leads = known_lead_addresses(session)
        use_condstore(client)
        reports = run_lanes(engine, job, busy, client)
        again = folders_with_relinks(engine, job.mailbox_id, job.horizon)
        if again:
            merge_reports(reports, sync_folders(engine, job, again, client))
    synced = {report.folder for report in reports}
    reports += [FolderReport(folder) for folder in job.folders if folder not in synced]
    order = {name: i for i, name in enumerate(job.folders)}
    return sorted(reports, key=lambda r: order.get(r.folder, len(order)))


def run_lanes(
    engine: Engine, job: MailboxJob, folders: list[str], client: Connection
) -> list[FolderReport]:
    """Sync the folders, split over one or two connections: `client` (in this thread) and,
    for a second lane, a connection of its own."""
    lanes = max(1, min(2, job.connections, len(folders)))
    if lanes == 1:
        return sync_folders(engine, job, folders, client)
    shares = [folders[i::lanes] for i in range(lanes)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap") as pool:
        other = pool.submit(sync_folders, engine, job, shares[1])
        mine = sync_folders(engine, job, shares[0], client)  # a failure waits for the other lane
        results = [*mine, *other.result()]
    order = {name: i for i, name in enumerate(folders)}
    return sorted(results, key=lambda r: order[r.folder])


def folders_with_relinks(
    engine: Engine, mailbox_id: int, horizon: datetime | None = None
) -> list[str]:
    """Folders holding skipped messages, inside the retention, that a lead now claims."""
    with write_session(engine) as session:
        rows = session.scalars(
            select(SkippedMessage.folder)
            .where(
                SkippedMessage.mailbox_id == mailbox_id,
                SkippedMessage.relink,
                within_retention(horizon),
            )
            .distinct()
        )
        return sorted(rows)


def merge_reports(reports: list[FolderReport], extra: list[FolderReport]) -> None:
    """Fold a relink pass into the first pass (its reports already took back the skips of
    the first pass that it fetched again: a message it stores is no longer a skip)."""
    by_folder = {r.folder: r for r in reports}
    for report in extra:
        target = by_folder.get(report.folder)
        if target is None:
            reports.append(report)
            continue
        target.fetched += report.fetched
        target.stored += report.stored
        target.seen_again += report.seen_again
        target.leads_created += report.leads_created
        target.seconds += report.seconds
        target.add_skips(report.skipped)  # the relink pass took back what it re-fetched
