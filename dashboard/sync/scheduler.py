"""The in-process scheduler: the only sync module that knows Flask and APScheduler.

It is built by create_app and started only by run.py, never by tests and never twice.
Jobs are declared here, each with a stable id. The sync job runs every company interval
(rescheduled live when an admin changes it) and syncs the mailboxes that are due: all of
them, except those backing off after a failure. The retention job runs daily (first a few
minutes after start, so a server restarted every day still purges) and deletes the mail
older than the company keeps, in short batches that never hold up the sync for long.
"Sincronizar agora" makes a mailbox due and moves the next round forward; it never syncs
inside the web request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import delete, select, update
from sqlmodel import Session

from dashboard.db.engine import write_session
from dashboard.db.flask import secret_box
from dashboard.models import Company, LoginFailure, Mailbox, utcnow
from dashboard.sync.retention import PurgeReport, purge_expired
from dashboard.sync.runner import RunOptions, due_mailbox_ids, run_round
from dashboard.sync.tokens import OAuthConfig

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB = "housekeeping"
RETENTION_JOB = "retention-purge"
SYNC_JOB = "sync-round"
RETENTION_FIRST_RUN = timedelta(minutes=10)  # after start: let the first sync round go first
MAX_FOLLOW_UPS = 3


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
    return RunOptions(ca_file=app.config.get("IMAP_CA_FILE"), oauth=oauth_config(app))


def sync_round(app: Flask) -> None:
    """One scheduled round over the due mailboxes.

    "Sincronizar agora" pressed while this round runs cannot start a second instance of the
    job (max_instances=1), so the round itself runs again for the mailboxes pressed meanwhile.
    """
    engine = app.extensions["leadsync.engine"]
    for _attempt in range(MAX_FOLLOW_UPS + 1):
        for result in run_round(engine, secret_box(app), run_options(app)):
            log.info(
                "synced %s: %s%s",
                result.address,
                result.totals(),
                f" error={result.error_code}" if result.error_code else "",
            )
        if not due_mailbox_ids(engine, utcnow(), pressed_only=True):
            return


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
    with write_session(app.extensions["leadsync.engine"]) as session:
        company = session.scalars(select(Company).order_by(Company.id)).first()
        return company.interval_minutes if company else 5


def reschedule_sync(app: Flask, minutes: int) -> None:
    """Apply a new sync interval to the sync job at once (no restart needed)."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    scheduler.reschedule_job(SYNC_JOB, trigger="interval", minutes=minutes)
    log.info("sync interval is now %d minutes", minutes)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """Create the scheduler with every job declared; the caller decides when to start it."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    scheduler.add_job(
        sync_round,
        "interval",
        minutes=company_interval(app),
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
    """Start the scheduler once (run.py); the first sync round runs right away."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    if not scheduler.running:
        scheduler.start()
        scheduler.modify_job(SYNC_JOB, next_run_time=utcnow())
    return scheduler
