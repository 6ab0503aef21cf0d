"""The in-process scheduler: the only sync module that knows Flask and APScheduler.

It is built by create_app and started only by run.py, never by tests and never twice.
Jobs are declared here, each with a stable id.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import delete

from dashboard.db import write_session
from dashboard.models import LoginFailure, utcnow

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB = "housekeeping"
SYNC_JOB = "sync-round"


def prune_login_failures(app: Flask) -> int:
    """Drop failed-login records older than a day; they no longer count for throttling."""
    with write_session(app.extensions["leadsync.engine"]) as session:
        result = session.exec(
            delete(LoginFailure).where(LoginFailure.at < utcnow() - timedelta(days=1))
        )
        return result.rowcount or 0


def reschedule_sync(app: Flask, minutes: int) -> None:
    """Apply a new sync interval to the running job at once (no restart needed)."""
    scheduler: BackgroundScheduler = app.extensions["leadsync.scheduler"]
    if scheduler.get_job(SYNC_JOB) is not None:
        scheduler.reschedule_job(SYNC_JOB, trigger="interval", minutes=minutes)
        log.info("sync interval is now %d minutes", minutes)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """Create the scheduler with every job declared; the caller decides when to start it."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    scheduler.add_job(
        prune_login_failures,
        "interval",
        hours=1,
        id=HOUSEKEEPING_JOB,
        args=[app],
        replace_existing=True,
    )
    return scheduler
