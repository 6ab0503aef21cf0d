"""Backups of a running instance, and their restoration into a new instance folder (no Flask).

A backup is a folder `leadsync-backup-YYYYmmdd-HHMMSS/` (mode 0700) holding a copy of the
database made with SQLite's online backup API (a consistent snapshot while the sync and the
web keep writing, never a file copy of a database in use), the key files (`fernet.key`
decrypts the mailbox passwords), a `manifest.json` and `SHA256SUMS` (`sha256sum -c` format).
Every file is mode 0600. A restore checks every sum before it copies anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dashboard.config import ensure_private_dir, write_private_file

DATABASE = "leadsync.db"
KEY_FILES = ("secret_key", "fernet.key")
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
STEP_PAGES = 256  # 1 MB of 4 KB pages per step
STEP_PAUSE = 0.01  # seconds between steps: the sync and the web take their turn
MAX_RESTARTS = 3  # then the rest in one step (WAL: a reader never blocks the writers)
COUNTS = {
    "emails": "SELECT count(*) FROM email",
    "leads": "SELECT count(*) FROM lead",
    "mailboxes": "SELECT count(*) FROM mailbox",
}
PROJECT = Path(__file__).resolve().parents[2]


class BackupError(Exception):
    """A backup that cannot be made or trusted; the text is one line for the operator."""


@dataclass(frozen=True)
class BackupSource:
    """What a backup copies: the live database file and the instance's key files."""

    database: Path
    instance: Path


class _Restarted(Exception):
    """The source changed under a stepped copy too often; finish in one step."""


def copy_database(source: Path, target: Path, pages: int = STEP_PAGES) -> None:
    """Copy a live database with the online backup API, a few pages at a time.

    SQLite restarts a stepped copy when another connection writes to the source; after
    MAX_RESTARTS the copy is finished in one step, which in WAL mode is a read snapshot
    that the writers do not wait for."""
    write_private_file(target, b"")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.execute("PRAGMA busy_timeout=15000")
        try:
            src.backup(dst, pages=pages, progress=_pacer())
        except _Restarted:
            src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    src.close()
    dst.close()


def _pacer() -> Callable[[int, int, int], None]:
    """The progress callback: pause between steps, give up stepping after restarts."""
    state: dict[str, int] = {"remaining": -1, "restarts": 0}

    def progress(_status: int, remaining: int, _total: int) -> None:
        if 0 <= state["remaining"] < remaining:
            state["restarts"] += 1
            if state["restarts"] > MAX_RESTARTS:
                raise _Restarted
        state["remaining"] = remaining
        time.sleep(STEP_PAUSE)

    return progress


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of a database file: "ok" or SQLite's first complaint."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        connection.close()


def describe(path: Path, now: dt.datetime) -> dict[str, object]:
    """The manifest of a database copy: schema revision, row counts, LeadSync's revision."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = {name: connection.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
    finally:
        connection.close()
    return {
        "created_at": now.isoformat(),
        "schema_revision": revision[0] if revision else None,
        "counts": counts,
        "leadsync_revision": git_revision(),
    }


def git_revision() -> str | None:
    """The commit LeadSync runs from, when it runs from a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(PROJECT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_backup(source: BackupSource, dest: Path, now: dt.datetime) -> Path:
    """Write a backup folder under `dest`; return it. Raise BackupError if the copy is bad."""
    folder = dest / f"leadsync-backup-{now:%Y%m%d-%H%M%S}"
    if folder.exists():
        raise BackupError(f"{folder} already exists")
    ensure_private_dir(dest)
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o700)  # whatever the umask
    try:
        _fill(source, folder, now)
    except BaseException:
        shutil.rmtree(folder)  # no half-made backup that looks like one
        raise
    return folder


def _fill(source: BackupSource, folder: Path, now: dt.datetime) -> None:
    """Copy, check, and sum the files of a new backup folder."""
    try:
        copy_database(source.database, folder / DATABASE)
    except sqlite3.Error as exc:
        raise BackupError(f"the database could not be copied: {exc}") from exc
    verdict = integrity(folder / DATABASE)
    if verdict != "ok":
        raise BackupError(f"the copy failed PRAGMA integrity_check: {verdict}")
    for name in KEY_FILES:
        write_private_file(folder / name, (source.instance / name).read_bytes())
    manifest = json.dumps(describe(folder / DATABASE, now), indent=2) + "\n"
    write_private_file(folder / MANIFEST, manifest.encode())
    names = (DATABASE, *KEY_FILES, MANIFEST)
    sums = "".join(f"{sha256(folder / name)}  {name}\n" for name in names)
    write_private_file(folder / SUMS, sums.encode())


def verify(folder: Path) -> dict[str, object]:
    """Check every file against SHA256SUMS; return the manifest. Raise BackupError if not."""
    if not (folder / SUMS).is_file():
        raise BackupError(f"{folder} has no {SUMS}: not a LeadSync backup")
    listed: dict[str, str] = {}
    for line in (folder / SUMS).read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name in (DATABASE, *KEY_FILES, MANIFEST):
        if name not in listed or not (folder / name).is_file():
            raise BackupError(f"{folder} lacks {name}")
    for name, digest in listed.items():
        if sha256(folder / Path(name).name) != digest:
            raise BackupError(f"{name} does not match {SUMS}: the backup was modified or corrupted")
    return dict(json.loads((folder / MANIFEST).read_text()))


def restore(folder: Path, instance: Path) -> dict[str, object]:
    """Copy a verified backup into an empty (or new) instance folder; return its manifest."""
    manifest = verify(folder)
    if instance.exists() and any(instance.iterdir()):
        raise BackupError(f"{instance} is not empty: restore only into a new instance folder")
    ensure_private_dir(instance)
    os.chmod(instance, 0o700)
    for name in (DATABASE, *KEY_FILES):
        write_private_file(instance / name, (folder / name).read_bytes())
    release_leases(instance / DATABASE)
    return manifest


def release_leases(path: Path) -> None:
    """Drop the sync leases the copy caught mid-run: no process of the new instance holds
    them, and they would keep its first syncs away for up to the lease's lifetime."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("DELETE FROM synclease")
    finally:
        connection.close()
