"""The retention purge on plain data: what goes with an old email, what stays, the ledger,
and the daily job that runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select

from dashboard.db.engine import read_session
from dashboard.models import (
    Attachment,
    Email,
    EmailLead,
    Lead,
    Notification,
    OutgoingEmail,
    PrivateThread,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    TrackedLink,
    TrackingEvent,
)
from dashboard.sync.retention import next_batch_size, purge_expired
from dashboard.sync.scheduler import RETENTION_JOB, purge_old_mail
from tests.support.database import dangling_foreign_keys, email_text_ids
from tests.support.lead_data import lead_data, seq, set_company
from tests.support.tables import table_counts

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)  # beyond a 12-month retention
RECENT = NOW - timedelta(days=10)


def fts_hits(engine: Engine, word: str) -> list[int]:
    """Email ids the full-text index finds for a word."""
    with engine.connect() as conn:
        return email_text_ids(conn, word)


def smart_email(session, rep, lead, email: Email | None, created_at: datetime) -> int:  # type: ignore[no-untyped-def]
    """A smart email (sent when `email` is given, else failed) with a tracked link, an open,
    a click and a notification about it."""
    n = seq()
    outgoing = OutgoingEmail(
        user_id=rep.id, lead_id=lead.id, message_id=f"<smart{n}@acme.test>",
        subject=f"Proposta {n}", body="Olá", state="sent" if email else "failed",
        email_id=email.id if email else None, created_at=created_at,
    )  # fmt: skip
    session.add(outgoing)
    session.flush()
    link = TrackedLink(outgoing_id=outgoing.id, url="https://acme.test/oferta")
    session.add(link)
    session.flush()
    session.add_all([
        TrackingEvent(outgoing_id=outgoing.id, recipient="x@cliente.test", kind="open"),
        TrackingEvent(outgoing_id=outgoing.id, recipient="x@cliente.test", kind="click",
                      link_id=link.id),
        Notification(user_id=rep.id, kind="open", lead_id=lead.id, outgoing_id=outgoing.id),
    ])  # fmt: skip
    return outgoing.id


def ledger_row(session, rep_box: int, *, date: datetime | None, created_at: datetime) -> int:  # type: ignore[no-untyped-def]
    """A "no lead" ledger row (dated, or undated like a parse error) with its address index."""
    row = SkippedMessage(
        mailbox_id=rep_box, folder="INBOX", uidvalidity=1, uid=seq(), reason="no_lead",
        date=date, created_at=created_at, addresses=[f"out{seq()}@fora.test"],
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.add(SkippedAddress(skipped_id=row.id, address=row.addresses[0]))
    return row.id


@pytest.fixture
def mail(engine, admin, rep):  # type: ignore[no-untyped-def]
    """Old and recent mail of two leads, with everything that hangs off an email."""
    with lead_data(engine) as data:
        ana = data.lead(name="Ana", owner=rep)  # old and recent mail
        bia = data.lead(name="Bia", owner=rep)  # old mail only
        old = data.email(ana, rep=rep, date=OLD, body_text="zebraantiga")
        old_bia = data.email(bia, rep=rep, date=OLD - timedelta(days=3), body_text="zebrabia")
        recent = data.email(ana, rep=rep, date=RECENT, body_text="zebranova")
        # a thread that spans the horizon keeps its private mark; one wholly old loses it
        spanning = data.thread(ana, messages=2, start=OLD, step=timedelta(days=390), rep=rep)
        for email in (old, recent):
            data.attachment(email)
            data.session.add(Notification(user_id=rep.id, kind="reply", lead_id=ana.id,
                                          email_id=email.id))  # fmt: skip
        data.session.add_all([
            PrivateThread(thread_key=old.thread_key, user_id=rep.id),
            PrivateThread(thread_key=spanning[0].thread_key, user_id=rep.id),
        ])  # fmt: skip
        smart_old = smart_email(data.session, rep, ana, old, OLD)
        smart_recent = smart_email(data.session, rep, ana, recent, RECENT)
        failed_old = smart_email(data.session, rep, ana, None, OLD)
        failed_recent = smart_email(data.session, rep, ana, None, RECENT)
        box = data.mailbox(rep)
        ledger = {
            "old": ledger_row(data.session, box, date=OLD, created_at=RECENT),
            "recent": ledger_row(data.session, box, date=RECENT, created_at=RECENT),
            "undated_old": ledger_row(data.session, box, date=None, created_at=OLD),
            "undated_recent": ledger_row(data.session, box, date=None, created_at=RECENT),
        }
        data.refresh()
    return SimpleNamespace(
        ana=ana.id, bia=bia.id, old=old.id, old_bia=old_bia.id, recent=recent.id,
        spanning=[e.id for e in spanning], old_thread=old.thread_key,
        spanning_thread=spanning[0].thread_key, smart_old=smart_old,
        smart_recent=smart_recent, failed_old=failed_old, failed_recent=failed_recent,
        ledger=ledger,
    )  # fmt: skip


def ids(engine: Engine, column) -> set:  # type: ignore[no-untyped-def]
    """Every value of a column."""
    with read_session(engine) as session:
        return set(session.scalars(select(column)))


@pytest.mark.parametrize(
    ("first_batch", "target"), [(50, 0.05), (1, 0.0)]
)  # all at once; one row per transaction (a target of 0 s never lets a batch grow)
def test_old_emails_go_with_everything_hanging_off_them(engine, mail, first_batch, target):
    set_company(engine, retention_months=12)
    before = table_counts(engine)

    report = purge_expired(engine, NOW, first_batch=first_batch, target=target, pause=0)

    kept = {mail.recent, mail.spanning[1]}
    assert ids(engine, Email.id) == kept
    assert (report.emails, report.smart_emails, report.ledger) == (3, 1, 2)
    assert ids(engine, EmailLead.email_id) == kept
    assert ids(engine, Sighting.email_id) == kept
    assert ids(engine, Attachment.email_id) == {mail.recent}
    assert ids(engine, Notification.email_id) - {None} == {mail.recent}
    assert ids(engine, OutgoingEmail.id) == {mail.smart_recent, mail.failed_recent}
    assert ids(engine, TrackedLink.outgoing_id) == {mail.smart_recent, mail.failed_recent}
    assert ids(engine, TrackingEvent.outgoing_id) == {mail.smart_recent, mail.failed_recent}
    assert ids(engine, Notification.outgoing_id) - {None} == {
        mail.smart_recent, mail.failed_recent
    }  # fmt: skip
    assert ids(engine, PrivateThread.thread_key) == {mail.spanning_thread}
    assert (fts_hits(engine, "zebraantiga"), fts_hits(engine, "zebrabia")) == ([], [])
    assert fts_hits(engine, "zebranova") == [mail.recent]
    assert ids(engine, SkippedMessage.id) == {
        mail.ledger["recent"], mail.ledger["undated_recent"]
    }  # fmt: skip
    assert ids(engine, SkippedAddress.skipped_id) == ids(engine, SkippedMessage.id)

    after = table_counts(engine)
    changed = {name: before[name] - after[name] for name in before if before[name] != after[name]}
    assert {name: n for name, n in changed.items() if not name.startswith("email_fts")} == {
        "email": 3, "emaillead": 3, "sighting": 3, "attachment": 1, "notification": 3,
        "outgoingemail": 2, "trackedlink": 2, "trackingevent": 4, "privatethread": 1,
        "skippedmessage": 2, "skippedaddress": 2,
    }  # fmt: skip
    with engine.connect() as conn:
        assert dangling_foreign_keys(conn) == []


def test_leads_stay_with_their_summaries_recomputed(engine, mail):
    set_company(engine, retention_months=12)
    purge_expired(engine, NOW, pause=0)
    with read_session(engine) as session:
        ana, bia = session.get(Lead, mail.ana), session.get(Lead, mail.bia)
        assert (ana.email_count, bia.email_count) == (2, 0)
        assert ana.first_contact_at.replace(tzinfo=UTC) >= NOW - timedelta(days=365)
        assert bia.last_contact_at is None


def test_without_a_retention_nothing_is_deleted(engine, mail):
    before = table_counts(engine)
    report = purge_expired(engine, NOW, pause=0)
    assert (report.horizon, report.emails, report.transactions) == (None, 0, [])
    assert table_counts(engine) == before


def test_a_longer_retention_keeps_what_a_shorter_one_deletes(engine, mail):
    set_company(engine, retention_months=14)  # 14 months are at least 424 days: 403 is inside
    report = purge_expired(engine, NOW, pause=0)
    assert (report.emails, report.ledger) == (0, 0)
    assert ids(engine, Email.id) == {mail.old, mail.old_bia, mail.recent, *mail.spanning}


def test_the_scheduler_runs_the_purge_every_day(app, engine, mail):
    job = app.extensions["leadsync.scheduler"].get_job(RETENTION_JOB)
    assert job is not None and job.func is purge_old_mail
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(days=1)
    set_company(engine, retention_months=12)
    report = job.func(*job.args)
    assert report.emails == 3
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Email)) == 2


@pytest.mark.parametrize(
    ("size", "took", "after"),
    [(100, 0.08, 100), (100, 0.1, 80), (100, 0.064, 125), (100, 0.5, 50), (100, 0.01, 200),
     (8, 0.2, 5), (1500, 0.01, 2000), (3, 0.0, 6)],
)  # fmt: skip
def test_batches_are_sized_to_take_the_target_time(size, took, after):
    assert next_batch_size(size, took, target=0.08, low=5, high=2000) == after
