"""A turnstile in front of the app: at most N requests run Python at once, the rest queue.

Why: one Python process runs one thread's Python at a time (the GIL). When all of
waitress's threads render pages together they hand the interpreter to each other every
few milliseconds: each page costs about 40% more CPU and latencies spread. Measured on the
2-core web benchmark (20,000 leads, 8 clients): list page p95 96 ms with 8 threads
rendering, 44 ms with 2 (bench/RESULTS.md). Two turns keep both cores busy, because SQLite
releases the GIL while it reads.

Waitress keeps more threads than turns, so a view that waits on the network (an IMAP
attachment download, verifying a mailbox) gives its turn back while it waits
(`with turn_released():`) instead of stalling everyone behind it. Static files skip the
gate.

Turns are handed over first come, first served: a released turn goes straight to the
oldest waiter, so a newcomer cannot barge in and the slowest answers stay close to the
median.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, request

ENVIRON_KEY = "leadsync.request_gate"


class FairTurns:
    """A counting semaphore that wakes its waiters in arrival order."""

    def __init__(self, turns: int) -> None:
        self._lock = threading.Lock()
        self._free = turns
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self) -> None:
        """Take a turn, waiting behind everyone who asked earlier."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        waiter.acquire()  # released by release(), which hands its turn over directly

    def release(self) -> None:
        """Give the turn to the oldest waiter, or back to the pool."""
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1


class RequestGate:
    """WSGI middleware: a turn from FairTurns around every request except static files."""

    def __init__(self, wsgi_app: Callable, turns: int, static_prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.turns = FairTurns(turns)
        self.static_prefix = static_prefix.rstrip("/") + "/"

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self.static_prefix):
            return self.wsgi_app(environ, start_response)
        self.turns.acquire()
        holder = environ[ENVIRON_KEY] = _Holder(self.turns)
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            holder.give_back()


class _Holder:
    """The turn one request holds, so a view can give it back while it waits on I/O."""

    def __init__(self, turns: FairTurns) -> None:
        self.turns = turns
        self.holding = True

    def give_back(self) -> None:
        if self.holding:
            self.holding = False
            self.turns.release()

    def take_again(self) -> None:
        if not self.holding:
            self.turns.acquire()
            self.holding = True


@contextmanager
def turn_released() -> Iterator[None]:
    """Inside a request: let other requests run while this one waits on the network."""
    holder: Any = request.environ.get(ENVIRON_KEY)
    if holder is None:  # gate off, or outside the WSGI path (tests calling views directly)
        yield
        return
    holder.give_back()
    try:
        yield
    finally:
        holder.take_again()


def init_app(app: Flask) -> None:
    """Install the gate; LEADSYNC_WEB_TURNS sets its size (0 turns it off)."""
    turns = int(app.config["WEB_TURNS"])
    if turns > 0:
        gate = RequestGate(app.wsgi_app, turns, app.static_url_path or "/static")
        app.wsgi_app = gate  # type: ignore[method-assign]  # Flask's documented middleware hook
