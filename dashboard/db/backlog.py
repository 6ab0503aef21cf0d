"""Writes a request hands over instead of failing: tried at once, finished in the background.

Why: a tracking pixel or a click comes from a lead's mail client, not from a user who can
press "try again". While a sync commits a batch it holds SQLite's only write lock for up to
a second or two; a request that needs the lock either waits (holding one of the few request
turns, so everybody's pages wait too) or fails. A `WriteBacklog` tries the write with a short
lock wait and, if the lock is busy, queues it for one background thread that writes queued
items in arrival order, waiting as long as it takes. The request answers either way.

What is queued lives in memory: it is written within a second or two of the lock freeing,
and `drain()` runs at interpreter exit; a process killed with SIGKILL loses what was still
queued (at most the hits of those seconds).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.db.engine import impatient_write_session, is_lock_timeout, write_session

log = logging.getLogger(__name__)

Write = Callable[[Session], object]

LOCK_WAIT_MS = 300  # what a visitor waits for the lock before the write is queued
MAX_QUEUED = 50_000  # beyond this the database is not coming back soon: drop and say so
RETRY_PAUSES = (0.05, 0.2, 1.0, 5.0)  # after a failed background attempt


class WriteBacklog:
    """Run small write transactions now if the lock is free soon, else later, in order."""

    def __init__(self, engine: Engine, lock_wait_ms: int = LOCK_WAIT_MS) -> None:
        self.engine = engine
        self.lock_wait_ms = lock_wait_ms
        self._queue: deque[Write] = deque()
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None

    def write(self, write: Write) -> bool:
        """Run `write` in its own transaction; True if it is committed on return, False if it
        was queued because the lock stayed busy (or earlier writes are still queued, which
        must go first)."""
        if not self.pending():
            try:
                with impatient_write_session(self.engine, self.lock_wait_ms) as session:
                    write(session)
                return True
            except Exception as error:
                if not is_lock_timeout(error):
                    raise
        self.defer(write)
        return False

    def defer(self, write: Write) -> None:
        """Queue `write` for the background thread."""
        with self._changed:
            if len(self._queue) >= MAX_QUEUED:
                log.error("write backlog full (%d queued): a write was dropped", MAX_QUEUED)
                return
            self._queue.append(write)
            self._start_worker()
            self._changed.notify_all()

    def pending(self) -> int:
        """Writes queued, the one being written included (it leaves the queue once written)."""
        with self._changed:
            return len(self._queue)

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued is written; False if `timeout` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="write-backlog", daemon=True)
            self._worker.start()
            atexit.register(self.drain, 10.0)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._queue:
                    self._changed.wait()
                write = self._queue[0]
            self._write_until_done(write)
            with self._changed:
                self._queue.popleft()
                self._changed.notify_all()

    def _write_until_done(self, write: Write) -> None:
        """Write one item, retrying while the database is busy; a write that fails for any
        other reason is logged and skipped, so it cannot block everything behind it."""
        attempt = 0
        while True:
            try:
                with write_session(self.engine) as session:
                    write(session)
                return
            except Exception as error:
                if not is_lock_timeout(error):
                    log.exception("a queued write failed and was dropped")
                    return
                pause = RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)]
                attempt += 1
                log.warning("queued write: database busy, retrying in %.2f s", pause)
                time.sleep(pause)
