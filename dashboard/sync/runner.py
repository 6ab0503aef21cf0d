"""A sync round: which mailboxes are due, one lease-guarded run per mailbox, status and backoff.

The error ladder: one bad message is a skip (engine); a mailbox's failure is recorded on
that mailbox and the others go on; transient failures back off 1 min doubling to 1 h;
authentication failures retry over a few hours, then the mailbox "needs reconnect".
Unknown errors are logged with their traceback and recorded, never hidden.
No Flask here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from dashboard.db.engine import read_session, small_cache, write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail.addresses import canonical_address
from dashboard.mail.imap_client import ErrorCode, ImapError
from dashboard.mail.imap_fetch import is_gmail
from dashboard.mail.net import XOAUTH2, ServerSettings
from dashboard.models import (
    Company,
    DismissedAddress,
    Mailbox,
    SyncLease,
    SyncRun,
    User,
    UserAddress,
    utcnow,
)
from dashboard.states import AutoCreate, LeadState, MailboxStatus
from dashboard.sync.accounting import adds_up
from dashboard.sync.engine import FolderReport, MailboxJob, sync_mailbox
from dashboard.sync.rules import (
    CompanyIdentity,
    NeverLogList,
    SyncPolicy,
    retention_horizon,
    window_start,
)
from dashboard.sync.store.lease import lease_holder, release_lease, take_lease
from dashboard.sync.tokens import OAuthConfig, TokenUnavailable, access_token

log = logging.getLogger(__name__)

AUTH_CODES = frozenset(
    {ErrorCode.AUTH_FAILED, ErrorCode.APP_PASSWORD_REQUIRED, ErrorCode.IMAP_DISABLED}
)
AUTH_RETRIES = (timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2))
LEASE_SECONDS = 600
SYNC_TIMEOUT = 60.0  # seconds a silent server may stall one command
HISTORY = 50
STOPPED = "interrupted"  # the history's word for a run its process ended (stop or kill)
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunOptions:
    """How runs are made: CA file (tests), timeouts, lease holder, connections, progress."""

    ca_file: str | None = None
    timeout: float = SYNC_TIMEOUT
    holder: str = PROCESS_ID
    connections: int = 2
    on_step: Callable[[str], None] = lambda step: None  # see MailboxJob.on_step
    batch_size: int = 500
    # Set when the process is stopping: runs end after their current step (a committed batch
    # at most) instead of finishing a long import, so a stop takes seconds, not minutes.
    stop: threading.Event = field(default_factory=threading.Event)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)  # endpoints of OAuth mailboxes


class SyncStopped(Exception):
    """The process is stopping: the run ends here, after a step that left everything stored."""


def stop_between_steps(options: RunOptions) -> Callable[[str], None]:
    """`options.on_step`, then SyncStopped when the process is stopping: every step (a FETCH,
    a committed batch, a folder's end) leaves the database consistent, so stopping there
    loses nothing; the next run resumes from the stored cursor."""

    def on_step(step: str) -> None:
        options.on_step(step)
        if options.stop.is_set():
            raise SyncStopped(step)

    return on_step


@dataclass
class RunResult:
    """What a mailbox's run did (None fields when it did not run)."""

    mailbox_id: int
    address: str
    ran: bool = True
    folders: list[FolderReport] = field(default_factory=list)
    error_code: str | None = None
    error: str = ""
    seconds: float = 0.0

    def totals(self) -> dict:
        """Summed counts over the folders."""
        skipped: dict[str, int] = {}
        for report in self.folders:
            for reason, n in report.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
        return {
            "fetched": sum(r.fetched for r in self.folders),
            "stored": sum(r.stored for r in self.folders),
            "seen_again": sum(r.seen_again for r in self.folders),
            "leads_created": sum(r.leads_created for r in self.folders),
            "skipped": skipped,
        }


def transient_delay(failures: int) -> timedelta:
    """1 minute, doubling per consecutive failure, at most 1 hour."""
    return min(timedelta(minutes=2 ** max(failures - 1, 0)), timedelta(hours=1))


def due_mailbox_ids(
    engine: Engine, now: datetime, address: str | None = None, pressed_only: bool = False
) -> list[int]:
    """Connected mailboxes whose turn it is: not backing off, or named, or "sync now" pressed."""
    with read_session(engine) as session:
        query = select(Mailbox).where(
            Mailbox.secret.is_not(None), Mailbox.status != MailboxStatus.NEEDS_RECONNECT
        )
        if address:
            query = query.where(Mailbox.address == address.strip().lower())
        boxes = session.scalars(query).all()
    if pressed_only:
        return [m.id for m in boxes if m.next_sync_at and m.next_sync_at <= now]
    return [m.id for m in boxes if address or not m.next_sync_at or m.next_sync_at <= now]


def mailbox_waiting(engine: Engine, now: datetime) -> bool:
    """True when a connected mailbox was made due ("Sincronizar agora", a new mailbox, a
    backoff that ran out) and no live lease says another process is syncing it.

    Cheap enough to ask every second: one row per connected mailbox, no write lock."""
    live_lease = select(SyncLease.mailbox_id).where(
        SyncLease.mailbox_id == Mailbox.id, SyncLease.expires_at > now
    )
    with read_session(engine) as session:
        found = session.scalar(
            select(Mailbox.id)
            .where(
                Mailbox.secret.is_not(None),
                Mailbox.status != MailboxStatus.NEEDS_RECONNECT,
                col(Mailbox.next_sync_at) <= now,
                ~live_lease.exists(),
            )
            .limit(1)
        )
    return found is not None


def import_start(import_days: int, now: datetime, horizon: datetime | None = None) -> date:
    """The first day of the import window, never before the retention horizon (the mailbox
    page estimates with the same day)."""
    return window_start((now - timedelta(days=import_days)).date(), horizon)


def build_policy(session: Session, company: Company) -> SyncPolicy:
    """The company's rules, read at the start of the round."""
    people = [*session.scalars(select(User.email)), *session.scalars(select(UserAddress.address))]
    return SyncPolicy(
        CompanyIdentity.build(company.domains, people),
        NeverLogList.build(company.never_log),
        company.skip_internal,
        company.auto_create,
        dismissed=frozenset(
            canonical_address(a) for a in session.scalars(select(DismissedAddress.address))
        ),
    )


def load_job(session: Session, mailbox: Mailbox, box: SecretBox, options: RunOptions) -> MailboxJob:
    """Everything a mailbox run needs, with the secret decrypted only for this run."""
    company = session.scalars(select(Company).order_by(Company.id)).first()
    owner = [
        session.get(User, mailbox.user_id).email,
        mailbox.address,
        *session.scalars(select(UserAddress.address).where(UserAddress.user_id == mailbox.user_id)),
    ]
    settings = ServerSettings(
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.imap_security,
        mailbox.username,
        # An OAuth mailbox's access token is fetched outside this transaction (sync_as_owner).
        "" if mailbox.auth == XOAUTH2 else box.decrypt(mailbox.secret),
        options.ca_file,
        options.timeout,
        company.allow_local_servers,  # re-read every round, like the other settings
        mailbox.auth,
    )
    now = utcnow()
    horizon = retention_horizon(company.retention_months, now)
    rescan = mailbox.rescan_since
    job = MailboxJob(
        mailbox.id,
        mailbox.user_id,
        settings,
        list(mailbox.folders),
        tuple(owner),
        build_policy(session, company),
        set(),  # known_leads: read by sync_mailbox once a folder has work (none if nothing new)
        import_start(company.import_days, now, horizon),
        window_start(rescan.date(), horizon) if rescan else None,
        is_gmail(mailbox.capabilities),
        LeadState.SUGGESTED if company.auto_create == AutoCreate.SUGGEST else LeadState.ACTIVE,
        options.connections,
        options.batch_size,
        options.on_step,
    )
    job.horizon = horizon
    return job


def holder_is_dead(holder: str) -> bool:
    """True when a lease holder ("host:pid:token") is a process of this host that is gone."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def start_run(
    engine: Engine,
    mailbox_id: int,
    box: SecretBox,
    options: RunOptions,
    only: frozenset[str] | None = None,
) -> tuple[MailboxJob, int] | None:
    """Take the lease, mark the mailbox syncing and open its history row; None if busy.
    `only` limits the run to those of the mailbox's folders (IDLE: INBOX)."""
    with write_session(engine) as session:
        if not take_lease(session, mailbox_id, options.holder, LEASE_SECONDS):
            dead = lease_holder(session, mailbox_id)
            if not (dead and holder_is_dead(dead)):
                return None
            log.warning("taking over the lease of %s, a process that no longer exists", dead)
            session.execute(
                update(SyncLease)
                .where(SyncLease.mailbox_id == mailbox_id, SyncLease.holder == dead)
                .values(
                    holder=options.holder,
                    expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS),
                )
            )
        session.execute(  # runs of a killed process never finished: say so in the history
            update(SyncRun)
            .where(SyncRun.mailbox_id == mailbox_id, SyncRun.seconds.is_(None))
            .values(seconds=0.0, error_code=STOPPED)
        )
        mailbox = session.get(Mailbox, mailbox_id)
        job = load_job(session, mailbox, box, options)
        if only is not None:
            job.folders = [f for f in job.folders if f in only]
        job.on_step = stop_between_steps(options)
        mailbox.status = MailboxStatus.SYNCING
        run = SyncRun(mailbox_id=mailbox_id)
        session.add_all([mailbox, run])
        session.flush()
        return job, run.id


def renew(session: Session, mailbox_id: int, holder: str) -> None:
    """Extend the lease in the batch's transaction; losing it means another process took over."""
    if not take_lease(session, mailbox_id, holder, LEASE_SECONDS):
        raise ImapError(ErrorCode.PROTOCOL, "sync lease lost to another process", host="-", port=0)


def finish_run(
    engine: Engine,
    run_id: int,
    result: RunResult,
    error: ImapError | None,
    *,
    partial: bool = False,
) -> None:
    """Record the outcome: history row, mailbox status, next attempt, and trim the history."""
    now = utcnow()
    with write_session(engine) as session:
        run, mailbox = session.get(SyncRun, run_id), session.get(Mailbox, result.mailbox_id)
        totals = result.totals()
        run.seconds, run.fetched, run.stored = result.seconds, totals["fetched"], totals["stored"]
        run.seen_again, run.skipped = totals["seen_again"], totals["skipped"]
        run.leads_created = totals["leads_created"]
        check_totals(result.address, totals)
        run.error_code, run.error_detail = result.error_code, result.error[:2000]
        if result.error_code == STOPPED:  # not a failure: due again as soon as sync restarts
            mailbox.status, mailbox.next_sync_at = MailboxStatus.CONNECTED, now
        elif error is None and result.error_code is None:
            mailbox.status, mailbox.failures, mailbox.last_error_code = (
                MailboxStatus.CONNECTED,
                0,
                None,
            )
            mailbox.last_success_at = now
            if not partial:  # an IDLE run of INBOX leaves a press or a re-scan to the round
                mailbox.next_sync_at, mailbox.rescan_since = None, None
        else:
            apply_failure(mailbox, result.error_code or "internal", error, now)
        session.add_all([run, mailbox])
        trim_history(session, result.mailbox_id)


def check_totals(address: str, totals: dict) -> None:
    """Log, loudly, a round whose numbers do not add up (the history would hide messages)."""
    if not adds_up(totals["fetched"], totals["stored"], totals["seen_again"], totals["skipped"]):
        log.error(
            "sync of %s: fetched %d != stored %d + seen again %d + skipped %s",
            address, totals["fetched"], totals["stored"], totals["seen_again"], totals["skipped"],
        )  # fmt: skip


def apply_failure(mailbox: Mailbox, code: str, error: ImapError | None, now: datetime) -> None:
    """Back off after a failure; stop for good after repeated authentication failures, or at
    once when an OAuth grant was revoked (retrying cannot help there)."""
    mailbox.failures += 1
    mailbox.last_error_code, mailbox.last_error_at, mailbox.status = code, now, MailboxStatus.ERROR
    if code == ErrorCode.OAUTH_REVOKED:
        mailbox.status, mailbox.next_sync_at = MailboxStatus.NEEDS_RECONNECT, None
        return
    if code in AUTH_CODES:
        if mailbox.failures > len(AUTH_RETRIES):
            mailbox.status, mailbox.next_sync_at = MailboxStatus.NEEDS_RECONNECT, None
            return
        mailbox.next_sync_at = now + AUTH_RETRIES[mailbox.failures - 1]
        return
    mailbox.next_sync_at = now + transient_delay(mailbox.failures)


def trim_history(session: Session, mailbox_id: int) -> None:
    """Keep the last HISTORY runs of a mailbox."""
    old = session.scalars(
        select(SyncRun.id)
        .where(SyncRun.mailbox_id == mailbox_id)
        .order_by(SyncRun.id.desc())
        .offset(HISTORY)
    ).all()
    for run_id in old:
        session.delete(session.get(SyncRun, run_id))


def with_token(
    engine: Engine, job: MailboxJob, box: SecretBox, options: RunOptions, *, force: bool = False
) -> None:
    """Put a usable access token in an OAuth mailbox's settings; ImapError when there is none."""
    try:
        token = access_token(engine, job.mailbox_id, box, options.oauth, force=force)
    except TokenUnavailable as exc:
        settings = job.settings
        raise ImapError(exc.code, exc.detail, host=settings.host, port=settings.port) from None
    job.settings = replace(job.settings, password=token)


def sync_as_owner(
    engine: Engine, job: MailboxJob, box: SecretBox, options: RunOptions
) -> list[FolderReport]:
    """Sync with the mailbox's secret; an OAuth mailbox refreshes its access token before it
    expires, and once more when the server refuses it (revoked early, clock skew)."""
    if job.settings.auth != XOAUTH2:
        return sync_mailbox(engine, job)
    with_token(engine, job, box, options)
    try:
        return sync_mailbox(engine, job)
    except ImapError as exc:
        if exc.code != ErrorCode.AUTH_FAILED:
            raise
    with_token(engine, job, box, options, force=True)
    return sync_mailbox(engine, job)


def run_mailbox(
    engine: Engine,
    mailbox_id: int,
    box: SecretBox,
    options: RunOptions | None = None,
    *,
    only: frozenset[str] | None = None,
) -> RunResult:
    """Sync one mailbox (or `only` some of its folders) if nobody else is; record the
    outcome either way."""
    options = options or RunOptions()
    if options.stop.is_set():
        return RunResult(mailbox_id, "", ran=False)
    engine = small_cache(engine)  # the sync's transactions need no large page cache
    started = start_run(engine, mailbox_id, box, options, only)
    with read_session(engine) as session:
        address = session.get(Mailbox, mailbox_id).address
    if started is None:
        log.info("mailbox %s is being synced by another process; skipping it", address)
        return RunResult(mailbox_id, address, ran=False)
    job, run_id = started
    job.on_batch = lambda session: renew(session, mailbox_id, options.holder)
    result, error, clock = RunResult(mailbox_id, address), None, time.perf_counter()
    # SystemExit, KeyboardInterrupt (not Exceptions) pass through and leave the run as a killed
    # process would: lease held, history row open until the next run calls it "interrupted".
    try:
        result.folders = sync_as_owner(engine, job, box, options)
    except SyncStopped:
        result.error_code = STOPPED
        log.info("sync of %s stopped: LeadSync is stopping", address)
    except ImapError as exc:
        error, result.error_code, result.error = exc, exc.code, f"{exc.host}:{exc.port} {exc.raw}"
        log.warning("sync of %s failed: %s", address, exc)
    except Exception as exc:  # recorded on the mailbox, logged with traceback, others go on
        result.error_code, result.error = "internal", f"{type(exc).__name__}: {exc}"
        log.exception("sync of %s failed unexpectedly", address)
    result.seconds = time.perf_counter() - clock
    finish_run(engine, run_id, result, error, partial=only is not None)
    with write_session(engine) as session:
        release_lease(session, mailbox_id, options.holder)
    return result


def run_round(
    engine: Engine,
    box: SecretBox,
    options: RunOptions | None = None,
    *,
    address: str | None = None,
    workers: int = 2,
) -> list[RunResult]:
    """Sync every due mailbox in a small pool; one mailbox's failure never stops the others."""
    ids = due_mailbox_ids(engine, utcnow(), address)
    if not ids:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sync") as pool:
        return list(pool.map(lambda i: run_mailbox(engine, i, box, options), ids))
