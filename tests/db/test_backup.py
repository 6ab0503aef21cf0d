"""The online copy of a live database: stepped, and still finishing while another
connection writes all the time."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from dashboard.db.backup import copy_database, integrity
from tests.support.database import sqlite_only

# `backup` copies the SQLite file; on PostgreSQL it refuses and points to pg_dump (README).
pytestmark = sqlite_only("backup copies the SQLite database file")


def test_a_stepped_copy_finishes_while_another_connection_keeps_writing(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE note (body TEXT)")
        db.executemany("INSERT INTO note VALUES (?)", [("x" * i,) for i in range(2000)])
    stop, written = threading.Event(), [0]

    def keep_writing() -> None:
        # SQLite restarts a stepped backup on every write from another connection
        writer = sqlite3.connect(source, isolation_level=None)
        while not stop.is_set():
            writer.execute("INSERT INTO note VALUES ('y')")
            written[0] += 1
            time.sleep(0.002)
        writer.close()

    threads = [
        threading.Thread(target=keep_writing),
        threading.Thread(target=copy_database, args=(source, target), kwargs={"pages": 20}),
    ]
    for thread in threads:
        thread.start()
    threads[1].join(30)
    stop.set()
    threads[0].join()
    assert not threads[1].is_alive(), "the copy restarted for ever"
    assert integrity(target) == "ok"
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no -wal needed
        assert 2000 < copy.execute("SELECT count(*) FROM note").fetchone()[0] < 2000 + written[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]
