"""The in-process scheduler: the only sync module that knows Flask and APScheduler.

It is built by create_app and started only by run.py, never by tests and never twice.
Jobs are declared here, each with a stable id. The sync job runs every company interval
(rescheduled live when an admin changes it) and syncs the mailboxes that are due: all of
them, except those backing off after a failure. The retention job runs daily (first a few
minutes after start, so a server restarted every day still purges) and deletes the mail
older than the company keeps, in short batches that never hold up the sync for long.
"Sincronizar agora" makes a mailbox due and moves the next round forward; it never syncs
inside the web request. The IMAP IDLE supervisor (idle.py) starts with the scheduler and
stops first when it shuts down: whichever process runs the scheduler runs IDLE.

The scheduler may run in another process than the pages (run.py --role sync), so what the
pages ask of it goes through the database: a watcher thread looks every second for a mailbox
made due and for a changed interval, and applies them (`wake`/`reschedule_sync` do it at
once when the scheduler happens to run in the page's own process).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import delete, select, update
from sqlmodel import Session

from dashboard.db.engine import read_session, write_session
from dashboard.db.flask import secret_box
from dashboard.models import Company, LoginFailure, Mailbox, utcnow
from dashboard.sync.idle import IdleConfig, IdleSupervisor
from dashboard.sync.retention import PurgeReport, purge_expired
from dashboard.sync.runner import RunOptions, due_mailbox_ids, mailbox_waiting, run_round
from dashboard.sync.tokens import OAuthConfig

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB = "housekeeping"
RETENTION_JOB = "retention-purge"
SYNC_JOB = "sync-round"
RETENTION_FIRST_RUN = timedelta(minutes=10)  # after start: let the first sync round go first
MAX_FOLLOW_UPS = 3
WATCH_SECONDS = 1.0  # how often the sync process looks for a pressed mailbox, a new interval


@dataclass
class SyncControl:
    """What the scheduler's threads share: the stop signal, whether a round runs, the
    interval the sync job was scheduled with (the watcher compares it with the database)."""

    interval: int
    stop: threading.Event = field(default_factory=threading.Event)
    round_running: threading.Event = field(default_factory=threading.Event)
    watcher: threading.Thread | None = None


def control(app: Flask) -> SyncControl:
    """The app's sync control (made with the scheduler)."""
    return app.extensions["leadsync.sync_control"]


def prune_login_failures(app: Flask) -> int:
    """Drop failed-login records older than a day; they no longer count for throttling."""
    old = utcnow() - timedelta(days=1)
    with write_session(app.extensions["leadsync.engine"]) as session:
        return session.execute(delete(LoginFailure).where(LoginFailure.at < old)).rowcount or 0


def purge_old_mail(app: Flask) -> PurgeReport:
    """Delete the emails and ledger rows older than the company's retention (if it has one)."""
    return purge_expired(app.extensions["leadsync.engine"], utcnow())


def oauth_config(app: Flask) -> OAuthConfig:
    """The OAuth part of the boot configuration (sync/tokens.py says when overrides count)."""
    return OAuthConfig(dict(app.config.get("OAUTH_OVERRIDES") or {}), bool(app.testing))


def run_options(app: Flask) -> RunOptions:
    """Run options from the boot configuration."""
    return RunOptions(
        ca_file=app.config.get("IMAP_CA_FILE"), stop=control(app).stop, oauth=oauth_config(app)
    )


def sync_round(app: Flask) -> None:
    """One scheduled round over the due mailboxes.

    "Sincronizar agora" pressed while this round runs cannot start a second instance of the
    job (max_instances=1), so the round itself runs again for the mailboxes pressed meanwhile.
    """
    engine, state = app.extensions["leadsync.engine"], control(app)
    state.round_running.set()
    try:
        for _attempt in range(MAX_FOLLOW_UPS + 1):
            for result in run_round(engine, secret_box(app), run_options(app)):
                if not result.ran:
                    continue
                log.info(
                    "synced %s: %s%s",
                    result.address,
                    result.totals(),
                    f" error={result.error_code}" if result.error_code else "",
                )
            if state.stop.is_set() or not due_mailbox_ids(engine, utcnow(), pressed_only=True):
                return
    finally:
        state.round_running.clear()


def wake(app: Flask) -> None:
    """Move the next round forward to now (when the scheduler runs in this process)."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    if scheduler.running:
        scheduler.modify_job(SYNC_JOB, next_run_time=utcnow())


def request_sync(session: Session, mailbox_id: int, rescan_since: datetime | None = None) -> None:
    """Make a mailbox due at once (optionally re-scanning from a day) in the caller's
    transaction; after committing, call `wake` so the round starts now."""
    values: dict = {"next_sync_at": utcnow(), "failures": 0}
    if rescan_since is not None:
        values["rescan_since"] = rescan_since
    session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(**values))


def company_interval(app: Flask) -> int:
    """The company's sync interval in minutes (5 before setup)."""
    with read_session(app.extensions["leadsync.engine"]) as session:
        company = session.scalars(select(Company).order_by(Company.id)).first()
        return company.interval_minutes if company else 5


def reschedule_sync(app: Flask, minutes: int) -> None:
    """Apply a new sync interval to the sync job at once (no restart needed)."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    scheduler.reschedule_job(SYNC_JOB, trigger="interval", minutes=minutes)
    control(app).interval = minutes
    log.info("sync interval is now %d minutes", minutes)


class SyncScheduler(BackgroundScheduler):
    """APScheduler that also stops the IDLE supervisor, first, when it shuts down."""

    idle: IdleSupervisor | None = None

    def shutdown(self, wait: bool = True) -> None:
        """End every IDLE (a second or two), then the jobs as APScheduler does."""
        if self.idle is not None:
            self.idle.stop()
            self.idle = None
        super().shutdown(wait=wait)


def idle_config(app: Flask) -> IdleConfig:
    """IDLE timings from the boot configuration."""
    return IdleConfig(
        renew=float(app.config["IDLE_RENEW_SECONDS"]),
        reconcile=float(app.config["IDLE_RECONCILE_SECONDS"]),
        backoff_base=float(app.config["IDLE_BACKOFF_SECONDS"]),
        backoff_ceiling=float(app.config["IDLE_BACKOFF_MAX_SECONDS"]),
    )


def start_idle(app: Flask) -> IdleSupervisor:
    """Start IDLE on every connected mailbox whose server offers it."""
    options = RunOptions(
        ca_file=app.config.get("IMAP_CA_FILE"), connections=1, oauth=oauth_config(app)
    )
    supervisor = IdleSupervisor(
        app.extensions["leadsync.engine"], secret_box(app), options, idle_config(app)
    )
    supervisor.start()
    return supervisor


def watch_once(app: Flask) -> None:
    """Apply what the pages asked through the database: a new interval, a mailbox made due
    (a round already running syncs the pressed mailboxes itself, see `sync_round`)."""
    state = control(app)
    minutes = company_interval(app)
    if minutes != state.interval:
        reschedule_sync(app, minutes)
    if not state.round_running.is_set() and mailbox_waiting(
        app.extensions["leadsync.engine"], utcnow()
    ):
        wake(app)


def watch(app: Flask) -> None:
    """The watcher thread: `watch_once` every second until the scheduler stops; a failure
    (the database busy past its timeout) is logged and the next second tries again."""
    state = control(app)
    while not state.stop.wait(WATCH_SECONDS):
        try:
            watch_once(app)
        except Exception:
            log.exception("the sync watcher failed; trying again in a second")


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """Create the scheduler with every job declared; the caller decides when to start it."""
    scheduler = SyncScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    interval = company_interval(app)
    app.extensions["leadsync.sync_control"] = SyncControl(interval)
    scheduler.add_job(
        sync_round,
        "interval",
        minutes=interval,
        id=SYNC_JOB,
        args=[app],
        replace_existing=True,
    )
    scheduler.add_job(
        prune_login_failures,
        "interval",
        hours=1,
        id=HOUSEKEEPING_JOB,
        args=[app],
        replace_existing=True,
    )
    scheduler.add_job(
        purge_old_mail,
        "interval",
        days=1,
        id=RETENTION_JOB,
        args=[app],
        next_run_time=utcnow() + RETENTION_FIRST_RUN,
        replace_existing=True,
    )
    return scheduler


def start(app: Flask) -> BackgroundScheduler:
    """Start the scheduler and its watcher once (run.py), with IDLE; the first sync round
    runs now."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    if not scheduler.running:
        scheduler.start()
        scheduler.modify_job(SYNC_JOB, next_run_time=utcnow())
        if isinstance(scheduler, SyncScheduler) and app.config["IDLE"]:
            scheduler.idle = start_idle(app)
        state = control(app)
        state.watcher = threading.Thread(target=watch, args=[app], name="sync-watcher", daemon=True)
        state.watcher.start()
    return scheduler


def stop(app: Flask) -> None:
    """Stop the scheduler: a running sync ends after its current step (a committed batch at
    most, seconds), the watcher and the jobs finish, then this returns."""
    state = control(app)
    state.stop.set()
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    if scheduler.running:
        scheduler.shutdown(wait=True)
    if state.watcher is not None:
        state.watcher.join()
