"""What crosses from the pages to a sync in another process, through the database: a pressed
mailbox and a new interval (the watcher), and a stop that ends a run between two steps."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Email, SyncLease, SyncRun, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.runner import STOPPED, RunOptions, mailbox_waiting, run_mailbox
from dashboard.sync.scheduler import SYNC_JOB, control, watch_once
from dashboard.sync.store.lease import take_lease
from tests.support.servers.dovecot import new_user
from tests.support.sync import (
    L1,
    LEADS,
    bulk_messages,
    connect,
    mailbox_row,
    make_lead,
    multiappend,
    set_company,
    set_mailbox,
    sync,
)

LEAD = LEADS[L1][0]


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def mailbox_id(app, admin, dovecot_server) -> int:  # type: ignore[no-untyped-def]
    """A connected mailbox that no round has made due yet."""
    box = connect(app, new_user(dovecot_server))
    set_mailbox(app.extensions["leadsync.engine"], box, next_sync_at=None)
    return box


def test_a_mailbox_is_waiting_once_made_due_and_not_while_another_process_syncs_it(
    engine, mailbox_id
):  # type: ignore[no-untyped-def]
    now = utcnow()
    assert not mailbox_waiting(engine, now)  # never pressed: the interval's round syncs it
    set_mailbox(engine, mailbox_id, next_sync_at=now + timedelta(minutes=1))  # backing off
    assert not mailbox_waiting(engine, now)
    set_mailbox(engine, mailbox_id, next_sync_at=now)  # "Sincronizar agora"
    assert mailbox_waiting(engine, now)
    with write_session(engine) as session:
        assert take_lease(session, mailbox_id, "other-host:1:abc", 600)
    assert not mailbox_waiting(engine, now)  # another process has it: nothing to wake
    set_mailbox(engine, mailbox_id, status=MailboxStatus.NEEDS_RECONNECT)
    with write_session(engine) as session:
        session.execute(SyncLease.__table__.delete())
    assert not mailbox_waiting(engine, now)


def test_the_watcher_applies_an_interval_changed_in_the_database(app, admin):  # type: ignore[no-untyped-def]
    scheduler = app.extensions["leadsync.scheduler"]  # never started: nothing runs
    set_company(app.extensions["leadsync.engine"], interval_minutes=23)  # another process did
    watch_once(app)
    trigger = scheduler.get_job(SYNC_JOB).trigger
    assert isinstance(trigger, IntervalTrigger) and trigger.interval == timedelta(minutes=23)
    assert control(app).interval == 23


def test_the_watcher_wakes_the_round_for_a_pressed_mailbox_unless_one_runs(app, engine, mailbox_id):  # type: ignore[no-untyped-def]
    scheduler = app.extensions["leadsync.scheduler"]
    scheduler.start(paused=True)  # running (so wake moves the job) but firing nothing
    try:
        later = scheduler.get_job(SYNC_JOB).next_run_time
        set_mailbox(engine, mailbox_id, next_sync_at=utcnow())
        control(app).round_running.set()  # a round in progress syncs pressed mailboxes itself
        watch_once(app)
        assert scheduler.get_job(SYNC_JOB).next_run_time == later
        control(app).round_running.clear()
        watch_once(app)
        assert scheduler.get_job(SYNC_JOB).next_run_time < later
    finally:
        scheduler.shutdown(wait=False)


def test_a_stop_ends_the_run_after_a_committed_batch_and_the_next_run_finishes_it(
    app, engine, admin, dovecot_server
):  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    count = 1200
    multiappend(user, "INBOX", bulk_messages(user.address, LEAD, count, "stop"))
    box = connect(app, user)
    make_lead(engine, L1, LEAD)
    stop = threading.Event()

    def stop_after_first_commit(step: str) -> None:
        if step == "commit":
            stop.set()

    first = sync(app, box, batch_size=200, stop=stop, on_step=stop_after_first_commit)
    assert first.error_code == STOPPED
    with read_session(engine) as session:
        stored_first = len(session.scalars(select(Email.id)).all())
        assert session.scalars(select(SyncLease)).all() == []  # given back
        run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert run.error_code == STOPPED and run.seconds is not None
    assert 0 < stored_first < count // 2  # the committed batch stayed, the rest did not run
    mailbox = mailbox_row(engine, box)
    assert mailbox.status == MailboxStatus.CONNECTED and mailbox.failures == 0
    assert mailbox.next_sync_at is not None and mailbox.next_sync_at <= utcnow()  # due again

    second = sync(app, box, batch_size=200)
    assert second.error_code is None
    with read_session(engine) as session:
        assert len(session.scalars(select(Email.id)).all()) == count // 2  # nothing doubled


def test_an_inbox_only_run_leaves_a_pressed_sync_and_a_rescan_to_the_round(app, engine, mailbox_id):  # type: ignore[no-untyped-def]
    """IDLE syncs INBOX alone; "Sincronizar agora" and a re-scan ask for every folder, so
    such a run must not answer them for the round."""
    now, since = utcnow(), utcnow() - timedelta(days=90)
    set_mailbox(engine, mailbox_id, next_sync_at=now, rescan_since=since)
    result = run_mailbox(
        engine, mailbox_id, app.extensions["leadsync.secrets"],
        RunOptions(ca_file=app.config["IMAP_CA_FILE"], connections=1, timeout=10.0),
        only=frozenset({"INBOX"}),
    )  # fmt: skip
    assert result.error_code is None
    mailbox = mailbox_row(engine, mailbox_id)
    assert mailbox.next_sync_at is not None and mailbox.rescan_since is not None
    assert mailbox_waiting(engine, utcnow())  # the watcher still wakes the round for it

    assert sync(app, mailbox_id).error_code is None  # the round, every folder
    mailbox = mailbox_row(engine, mailbox_id)
    assert mailbox.next_sync_at is None and mailbox.rescan_since is None
