"""The send queue: smart emails delivered on a small thread pool, off the request thread.

Invariant: an email is queued at most once at a time (a second submit returns the pending
future), and a delivery that raises is logged here after delivery.deliver recorded it as a
failed, retryable draft. Built by the app factory (app.extensions); no Flask here.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sqlalchemy import Engine

from dashboard.db.secrets import SecretBox
from dashboard.sending.delivery import deliver
from dashboard.sync.tokens import OAuthConfig

log = logging.getLogger(__name__)


class SendQueue:
    """Delivers smart emails on a small thread pool, off the request thread (app.extensions)."""

    def __init__(
        self, engine: Engine, box: SecretBox, *, ca_file: str | None, public_url: str | None,
        secret_key: str | bytes, workers: int = 2, oauth: OAuthConfig | None = None,
    ) -> None:  # fmt: skip
        self._engine, self._box = engine, box
        self._options = {
            "ca_file": ca_file, "public_url": public_url, "secret_key": secret_key, "oauth": oauth,
        }  # fmt: skip
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="send")
        self._pending: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, outgoing_id: int) -> Future[None]:
        """Queue one delivery; an email already queued is not queued twice."""
        with self._lock:
            if outgoing_id in self._pending:
                return self._pending[outgoing_id]
            future = self._pool.submit(self._deliver, outgoing_id)
            self._pending[outgoing_id] = future
        future.add_done_callback(lambda done: self._finished(outgoing_id, done))
        return future

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every queued delivery (tests, shutdown)."""
        with self._lock:
            futures = list(self._pending.values())
        wait(futures, timeout)

    def shutdown(self) -> None:
        """Finish queued deliveries and stop the threads."""
        self._pool.shutdown(wait=True)

    def _deliver(self, outgoing_id: int) -> None:
        """Run one delivery on a pool thread."""
        deliver(self._engine, outgoing_id, self._box, **self._options)

    def _finished(self, outgoing_id: int, future: Future[None]) -> None:
        """Forget a finished delivery; log what it raised (it is recorded as failed)."""
        with self._lock:
            self._pending.pop(outgoing_id, None)
        exc = future.exception()
        if exc is not None:
            log.error("delivery of smart email %s failed", outgoing_id, exc_info=exc)
