"""Two syncers against one database, and a connection cut in the middle of a FETCH."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Email, FolderCursor, Sighting, SkippedMessage, SyncLease
from dashboard.sync.runner import RunOptions, run_mailbox
from tests.support.servers.dovecot import new_user
from tests.support.sync import (
    L1,
    LEADS,
    STORED,
    MailMaker,
    append_mails,
    bulk_messages,
    cli,
    connect,
    connect_with_cli,
    imap_commands,
    mailbox_row,
    make_lead,
    multiappend,
    sync,
)

LEAD = LEADS[L1][0]


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def each_uid_once(engine, folder: str = "INBOX") -> Counter:  # type: ignore[no-untyped-def]
    """How many sightings + ledger rows each UID of a folder has."""
    with read_session(engine) as session:
        return Counter(
            [
                *session.scalars(select(Sighting.uid).where(Sighting.folder == folder)),
                *session.scalars(select(SkippedMessage.uid).where(SkippedMessage.folder == folder)),
            ]
        )


def lease_taken(db: Path) -> bool:
    """True once some process holds a sync lease (read with its own connection)."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute("SELECT COUNT(*) FROM synclease").fetchone()[0] > 0


def test_two_sync_processes_at_once_one_syncs_the_other_skips(
    app, engine, admin, dovecot_server, relay
) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    count = 600
    multiappend(user, "INBOX", bulk_messages(user.address, LEAD, count, "two"))
    connect_with_cli(app, user, port=relay.port)
    make_lead(engine, L1, LEAD)
    db = Path(app.instance_path) / "leadsync.db"
    relay.gate.clear()  # the first process will hold the lease while its server is slow
    first = cli(app.instance_path, dovecot_server.ca_file)
    deadline = time.monotonic() + 30
    while not lease_taken(db) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    second = cli(app.instance_path, dovecot_server.ca_file)
    second_out, second_err = second.communicate(timeout=60)
    relay.gate.set()
    first_out, first_err = first.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0), (first_err, second_err)
    assert f"{user.address}: skipped, another process is syncing it" in second_out
    assert "stored=" not in second_out
    assert f"stored={count // 2}" in first_out and "skipped[no_lead=300]" in first_out
    counts = each_uid_once(engine)
    assert sorted(counts) == list(range(1, count + 1)) and set(counts.values()) == {1}
    with read_session(engine) as session:
        assert len(session.scalars(select(Email.id)).all()) == count // 2
        assert session.scalars(select(SyncLease)).all() == []  # released by the winner


def test_two_threads_with_different_holders_one_waits_its_turn(
    app, engine, admin, dovecot_server, caplog
) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user)
    make_lead(engine, L1, LEAD)
    maker = MailMaker(user.address)
    mails = [maker.message(f"m{i}", sender=LEAD, to=[user.address], text="x\n", fate=STORED)
             for i in range(6)]  # fmt: skip
    append_mails(user, mails)
    inside, release = threading.Event(), threading.Event()

    def hold(step: str) -> None:
        inside.set()
        assert release.wait(20)

    box = app.extensions["leadsync.secrets"]
    options = dict(ca_file=dovecot_server.ca_file, connections=1, timeout=10.0)
    results = {}
    holder_a = RunOptions(holder="process-a", on_step=hold, **options)
    worker = threading.Thread(
        target=lambda: results.setdefault("a", run_mailbox(engine, mailbox_id, box, holder_a))
    )
    worker.start()
    assert inside.wait(20)
    with caplog.at_level(logging.INFO, logger="dashboard.sync.runner"):
        other = run_mailbox(engine, mailbox_id, box, RunOptions(holder="process-b", **options))
    release.set()
    worker.join(20)
    assert other.ran is False and other.folders == []
    assert "being synced by another process" in caplog.text
    assert results["a"].error_code is None and results["a"].totals()["stored"] == 6
    later = run_mailbox(engine, mailbox_id, box, RunOptions(holder="process-b", **options))
    assert later.ran and later.totals()["fetched"] == 0  # the lease was given back
    assert set(each_uid_once(engine).values()) == {1}


# --- connection cut in the middle of a FETCH ---------------------------------------------


def test_connection_cut_mid_fetch_is_a_transient_error_and_the_next_round_completes(
    app, engine, admin, dovecot_server, relay, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user, port=relay.port)  # verified through the relay: TLS holds
    make_lead(engine, L1, LEAD)
    maker = MailMaker(user.address)
    filler = "Linha de texto para ocupar espaço na mensagem.\n" * 40  # ~2 KB
    mails = [maker.message(f"m{i}", sender=LEAD, to=[user.address], text=f"{i}\n{filler}",
                           fate=STORED) for i in range(40)]  # fmt: skip
    append_mails(user, mails)
    relay.limit = 60_000  # bytes from the server: a few batches in, mid-FETCH
    with imap_commands(monkeypatch) as log:
        cut = sync(app, mailbox_id, batch_size=10, timeout=5.0)
    assert relay.cuts == 1
    assert cut.error_code == "network", (cut.error_code, cut.error)
    assert log.calls[-1][0] == "fetch"  # the line went dead in the middle of a FETCH
    row = mailbox_row(engine, mailbox_id)
    assert (row.status, row.last_error_code, row.failures) == ("error", "network", 1)
    with read_session(engine) as session:
        cursor = session.scalars(select(FolderCursor).where(FolderCursor.folder == "INBOX")).one()
        stored = len(session.scalars(select(Email.id)).all())
    assert 0 < stored < 40 and cursor.last_uid == stored  # only whole batches, in order
    assert cursor.last_uid % 10 == 0
    relay.limit = None
    again = sync(app, mailbox_id, batch_size=10, timeout=5.0)
    assert again.error_code is None
    assert again.totals()["stored"] == 40 - stored
    counts = each_uid_once(engine)
    assert counts == Counter({m.uid: 1 for m in mails})
    assert mailbox_row(engine, mailbox_id).status == "connected"


def test_server_stalling_mid_fetch_ends_the_round_with_a_timeout(
    app, engine, admin, dovecot_server, relay
) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    mailbox_id = connect(app, user, port=relay.port)
    make_lead(engine, L1, LEAD)
    maker = MailMaker(user.address)
    mails = [maker.message(f"s{i}", sender=LEAD, to=[user.address], text="x\n", fate=STORED)
             for i in range(8)]  # fmt: skip
    append_mails(user, mails)

    def stall_after_first_commit(step: str) -> None:
        if step == "commit":
            relay.gate.clear()  # from now on the server says nothing

    started = time.monotonic()
    result = sync(app, mailbox_id, batch_size=4, timeout=1.0, on_step=stall_after_first_commit)
    relay.gate.set()
    assert result.error_code == "timeout", (result.error_code, result.error)
    assert time.monotonic() - started < 10
    row = mailbox_row(engine, mailbox_id)
    assert (row.status, row.last_error_code) == ("error", "timeout")
    assert set(each_uid_once(engine)) == {m.uid for m in mails[:4]}
    assert sync(app, mailbox_id, batch_size=4, timeout=5.0).error_code is None
    assert each_uid_once(engine) == Counter({m.uid: 1 for m in mails})
