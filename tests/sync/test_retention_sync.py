"""Retention against a real Dovecot: mail older than the horizon is never fetched or stored
again, whichever way the sync comes to it (first import, re-scan, new UIDs, relinks)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email, FolderCursor, SkippedMessage
from dashboard.sync.accounting import adds_up
from dashboard.sync.retention import purge_expired
from tests.support.sync import (
    L1,
    LEADS,
    STRANGER,
    MailMaker,
    add_lead_and_relink,
    append_mails,
    connect,
    imap_commands,
    make_lead,
    set_company,
    set_mailbox,
    sync,
)

LEAD1 = LEADS[L1][0]
OTHER_STRANGER = "outro@desconhecido.test"


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA, as an operator would set IMAP_CA_FILE."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def box(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A connected mailbox holding, for a lead and for two strangers, mail from 400 days
    ago (dated so in its headers and on the server) and from last month; a first import
    window of ten years."""
    set_company(engine, import_days=3650)
    make_lead(engine, L1, LEAD1)
    maker = MailMaker(mailbox_user.address)
    to = [mailbox_user.address]
    mails = SimpleNamespace(
        old_lead=maker.message("old_lead", sender=LEAD1, to=to, fate="", days_ago=400),
        old_stranger=maker.message("old_str", sender=STRANGER, to=to, fate="", days_ago=400),
        old_other=maker.message("old_oth", sender=OTHER_STRANGER, to=to, fate="", days_ago=400),
        new_lead=maker.message("new_lead", sender=LEAD1, to=to, fate="", days_ago=30),
        new_stranger=maker.message("new_str", sender=STRANGER, to=to, fate="", days_ago=30),
    )
    append_mails(mailbox_user, vars(mails).values())
    mailbox_id = connect(app, mailbox_user)
    return SimpleNamespace(id=mailbox_id, user=mailbox_user, maker=maker, mails=mails)


def stored_subjects(engine) -> set[str]:  # type: ignore[no-untyped-def]
    """Subjects of the stored emails."""
    with read_session(engine) as session:
        return set(session.scalars(select(Email.subject)))


def ledger_uids(engine) -> set[int]:  # type: ignore[no-untyped-def]
    """UIDs in the skip ledger."""
    with read_session(engine) as session:
        return set(session.scalars(select(SkippedMessage.uid)))


def fetched_uids(log) -> set[int]:  # type: ignore[no-untyped-def]
    """Every UID a FETCH asked for."""
    return {uid for _folder, uids, _items in log.fetched() for uid in uids}


def test_purged_mail_is_not_imported_again_not_even_by_a_rescan(app, engine, box, monkeypatch):
    m = box.mails
    assert sync(app, box.id).error_code is None
    assert stored_subjects(engine) == {m.old_lead.subject, m.new_lead.subject}
    old_skips = {m.old_stranger.uid, m.old_other.uid}
    assert ledger_uids(engine) == {*old_skips, m.new_stranger.uid}

    set_company(engine, retention_months=12)
    report = purge_expired(engine, dt.datetime.now(dt.UTC), pause=0)
    assert (report.emails, report.ledger) == (1, 2)

    assert sync(app, box.id).error_code is None  # a round with nothing new
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3 * 365)
    set_mailbox(engine, box.id, rescan_since=long_ago)  # "re-scan since" three years back
    with imap_commands(monkeypatch) as log:
        assert sync(app, box.id).error_code is None
    assert stored_subjects(engine) == {m.new_lead.subject}
    assert ledger_uids(engine) == {m.new_stranger.uid}
    assert not fetched_uids(log) & {m.old_lead.uid, *old_skips}  # not even their headers


def test_old_mail_arriving_as_new_is_neither_stored_nor_recorded(app, engine, box):
    """A message moved or copied in today gets a new UID and today's arrival date: its own
    date (400 days ago) is what counts."""
    set_company(engine, retention_months=12)
    assert sync(app, box.id).error_code is None
    late = box.maker.message("late", sender=LEAD1, to=[box.user.address], fate="", days_ago=400)
    late.uid = box.user.append("INBOX", late.data, msg_time=dt.datetime.now(dt.UTC))
    result = sync(app, box.id)
    totals = result.totals()
    # Passed over, not counted as fetched: the round still adds up (accounting.adds_up).
    assert result.error_code is None and totals["fetched"] == 0
    assert adds_up(totals["fetched"], totals["stored"], totals["seen_again"], totals["skipped"])
    assert stored_subjects(engine) == {box.mails.new_lead.subject}
    assert late.uid not in ledger_uids(engine)
    with read_session(engine) as session:  # the cursor moved past it
        cursor = session.scalars(
            select(FolderCursor).where(
                FolderCursor.mailbox_id == box.id, FolderCursor.folder == "INBOX"
            )
        ).one()
    assert cursor.last_uid >= late.uid


def test_the_first_import_stops_at_the_horizon(app, engine, box, monkeypatch):
    set_company(engine, retention_months=12)  # ten years of import window, one of retention
    with imap_commands(monkeypatch) as log:
        assert sync(app, box.id).error_code is None
    m = box.mails
    assert stored_subjects(engine) == {m.new_lead.subject}
    assert ledger_uids(engine) == {m.new_stranger.uid}
    assert fetched_uids(log) == {m.new_lead.uid, m.new_stranger.uid}


def test_a_new_lead_does_not_bring_back_its_mail_older_than_the_horizon(
    app, engine, box, monkeypatch
):
    """Retention set after the first import, before the daily purge ran: the ledger still
    holds the old skip, yet the lead's relink fetches only its mail inside the retention."""
    m = box.mails
    assert sync(app, box.id).error_code is None
    set_company(engine, retention_months=12)
    add_lead_and_relink(engine, "Estranho", STRANGER)
    with imap_commands(monkeypatch) as log:
        assert sync(app, box.id).error_code is None
    assert m.new_stranger.subject in stored_subjects(engine)
    assert m.old_stranger.subject not in stored_subjects(engine)
    assert m.old_stranger.uid not in fetched_uids(log)
