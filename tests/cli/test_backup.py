"""`backup DEST` and `restore BACKUP --instance DIR`: an online copy of the database and the
keys, taken while a real sync writes, restored into a new instance that syncs on."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from dashboard import create_app
from dashboard.config import instance_keys
from dashboard.db.backup import BackupSource, make_backup
from dashboard.db.engine import make_engine, read_session
from dashboard.db.migrate import head_revision, stored_revision, upgrade
from dashboard.models import Email, Mailbox, Sighting
from tests.support.database import sqlite_only
from tests.support.servers.dovecot import new_user
from tests.support.sync import (
    L1,
    LEADS,
    RunResult,
    bulk_messages,
    connect,
    make_lead,
    multiappend,
    snapshot,
    sync,
)

# `backup` copies the SQLite file; on PostgreSQL it refuses and points to pg_dump (README).
pytestmark = sqlite_only("backup copies the SQLite database file")

MESSAGES = 400  # half from the lead (stored), half from strangers (skipped: no lead)
LEAD = LEADS[L1][0]


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def back_up(app, dest: Path) -> Path:  # type: ignore[no-untyped-def]
    """Run `backup DEST`; return the one folder it wrote."""
    result = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    (folder,) = dest.iterdir()
    assert f"Backup written to {folder}" in result.output
    return folder


def restore(app, folder: Path, instance: Path):  # type: ignore[no-untyped-def]
    """Run `restore BACKUP --instance DIR`; return the click result."""
    return app.test_cli_runner().invoke(args=["restore", str(folder), "--instance", str(instance)])


def sync_with_a_backup_in_the_middle(app, mailbox_id: int, dest: Path) -> tuple[Path, RunResult]:  # type: ignore[no-untyped-def]
    """Sync in a thread, 20 messages a commit; back up after its second commit, while it
    keeps committing (paced at most one commit per 50 ms until the backup is done)."""
    commits, backed_up = [], threading.Event()
    second_commit = threading.Event()
    outcome: list[RunResult] = []

    def pace(step: str) -> None:
        if step == "commit":
            commits.append(step)
            if len(commits) == 2:
                second_commit.set()
            backed_up.wait(0.05)

    worker = threading.Thread(
        target=lambda: outcome.append(sync(app, mailbox_id, batch_size=20, on_step=pace))
    )
    worker.start()
    assert second_commit.wait(30)
    folder = back_up(app, dest)
    backed_up.set()
    worker.join(60)
    assert outcome and outcome[0].error_code is None, outcome
    return folder, outcome[0]


def test_a_backup_taken_mid_sync_restores_into_a_new_instance_that_syncs_on(
    app, engine, admin, dovecot_server, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot_server)
    multiappend(user, "INBOX", bulk_messages(user.address, LEAD, MESSAGES, "backup"))
    mailbox_id = connect(app, user)
    make_lead(engine, L1, LEAD)
    folder, _ = sync_with_a_backup_in_the_middle(app, mailbox_id, tmp_path / "backups")
    manifest = json.loads((folder / "manifest.json").read_text())
    # the backup overlapped the import: some batches were in, not all
    assert 0 < manifest["counts"]["emails"] < MESSAGES // 2, manifest
    assert manifest["counts"]["mailboxes"] == 1 and manifest["counts"]["leads"] == 1
    original = snapshot(engine)

    instance = tmp_path / "restored" / "instance"
    result = restore(app, folder, instance)
    assert result.exit_code == 0, result.output
    assert f"LEADSYNC_INSTANCE={instance}" in result.output
    restored = create_app(
        {"TESTING": True, "INSTANCE_PATH": str(instance), "IMAP_CA_FILE": dovecot_server.ca_file}
    )
    again = restored.extensions["leadsync.engine"]
    try:
        with again.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert restored.secret_key == app.secret_key
        with read_session(again) as session:
            secret = session.get(Mailbox, mailbox_id).secret
            assert restored.extensions["leadsync.secrets"].decrypt(secret) == user.password
            assert (
                session.scalar(select(func.count()).select_from(Email))
                == (manifest["counts"]["emails"])
            )
        # a new server process (another lease holder) picks up where the copy stopped
        result_after = sync(restored, mailbox_id, holder="restored-server")
        assert result_after.ran and result_after.error_code is None, result_after
        with read_session(again) as session:
            emails = session.scalars(select(Email)).all()
            sightings = session.scalar(select(func.count()).select_from(Sighting))
        assert len(emails) == sightings == MESSAGES // 2
        assert len({(e.message_id, e.sender) for e in emails}) == MESSAGES // 2
        assert snapshot(again) == original
    finally:
        again.dispose()


@pytest.mark.parametrize("name", ["leadsync.db", "fernet.key", "manifest.json"])
def test_restore_refuses_a_modified_backup(app, admin, tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = back_up(app, tmp_path / "backups")
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    instance = tmp_path / "new-instance"
    result = restore(app, folder, instance)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {name} does not match SHA256SUMS: the backup was modified or corrupted"
    )
    assert not instance.exists()


def test_restore_refuses_an_instance_folder_that_is_not_empty(app, admin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = back_up(app, tmp_path / "backups")
    instance = tmp_path / "busy"
    instance.mkdir()
    (instance / "config.py").write_text("PUBLIC_URL = 'https://crm.acme.test'\n")
    result = restore(app, folder, instance)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {instance} is not empty: restore only into a new instance folder"
    )
    assert [p.name for p in instance.iterdir()] == ["config.py"]
    own = restore(app, folder, Path(app.instance_path))
    assert own.exit_code == 1 and "not the one this command runs on" in own.stderr


def mode(path: Path) -> int:
    """The permission bits of a file or folder."""
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_and_restore_keep_the_folder_0700_and_every_file_0600(app, admin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    old_umask = os.umask(0o022)  # a permissive umask must not leak into the modes
    try:
        folder = back_up(app, tmp_path / "backups")
        instance = tmp_path / "new-instance"
        assert restore(app, folder, instance).exit_code == 0
    finally:
        os.umask(old_umask)
    assert folder.name.startswith("leadsync-backup-") and mode(folder) == 0o700
    names = {p.name for p in folder.iterdir()}
    assert names == {"leadsync.db", "secret_key", "fernet.key", "manifest.json", "SHA256SUMS"}
    assert {p.name: mode(p) for p in folder.iterdir()} == dict.fromkeys(names, 0o600)
    assert mode(instance) == 0o700
    assert {p.name: mode(p) for p in instance.iterdir()} == dict.fromkeys(
        ["leadsync.db", "secret_key", "fernet.key"], 0o600
    )
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_revision"] == head_revision()
    assert manifest["counts"] == {"emails": 0, "leads": 0, "mailboxes": 0}


def test_a_copy_that_fails_the_integrity_check_is_no_backup(app, engine, admin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Path(app.instance_path) / "leadsync.db"
    engine.dispose()
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_emaillead_lead_id'"
        ).fetchone()[0]
    with database.open("r+b") as handle:  # an index page turned to garbage
        handle.seek((root - 1) * size)
        handle.write(b"\xff" * size)
    dest = tmp_path / "backups"
    result = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: the copy failed PRAGMA integrity_check: ")
    assert list(dest.iterdir()) == []


def test_a_backup_of_an_older_schema_is_upgraded_when_the_restored_instance_starts(
    app, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # an instance of an older LeadSync (schema 0012), backed up as its `backup` would
    instance = tmp_path / "old" / "instance"
    instance.mkdir(parents=True, mode=0o700)
    old_engine = make_engine(f"sqlite:///{instance / 'leadsync.db'}")
    upgrade(old_engine, "0012")
    old_engine.dispose()
    instance_keys(instance)
    source = BackupSource(instance / "leadsync.db", instance)
    folder = make_backup(source, tmp_path / "backups", dt.datetime.now(dt.UTC))
    assert json.loads((folder / "manifest.json").read_text())["schema_revision"] == "0012"
    restored = tmp_path / "restored"
    assert restore(app, folder, restored).exit_code == 0
    new = create_app({"TESTING": True, "INSTANCE_PATH": str(restored)})
    try:
        assert stored_revision(new.extensions["leadsync.engine"]) == head_revision() != "0012"
    finally:
        new.extensions["leadsync.engine"].dispose()
