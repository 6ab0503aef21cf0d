"""IMAP IDLE: new mail in INBOX synced within seconds, not at the next interval round.

One watcher thread multiplexes every IDLE socket with a selector (no thread per mailbox);
a small pool does the blocking steps (connect + LOGIN + IDLE, the renewal before 29 minutes,
LOGOUT) and another (idle_inbox.py) syncs INBOX when a server says EXISTS, through the
runner: the lease keeps it from ever syncing a mailbox the interval round is syncing (it
waits its turn).
The interval round stays the safety net (Sent and other folders, missed events).

Invariants:
- Only the watcher thread touches the selector and the table of watches; the pools report
  back through a queue and a wake-up socket.
- At most `company.idle_connections` connections; beyond it the mailboxes take turns
  (idle_rules.idle_turn), the others wait for the interval round.
- A dropped connection or refused login reconnects after an exponential delay with jitter
  (idle_rules.reconnect_delay), never at once: no reconnect storm.
- Which mailboxes idle is re-read from the database every few seconds, so connecting,
  disconnecting or reconnecting a mailbox (a new password) takes effect without a restart,
  from whichever process changed it.
- mailbox.idle_since says which mailboxes idle now (the status page); written in order by
  one thread, cleared for all at start and stop.
No Flask here: the scheduler hands in the engine, the secret box and the options.
"""

from __future__ import annotations

import logging
import queue
import random
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, replace

from sqlalchemy import Engine, select

from dashboard.db.engine import read_session
from dashboard.db.secrets import SecretBox
from dashboard.mail.imap_client import ImapError
from dashboard.mail.imap_idle import IdleLink
from dashboard.mail.net import XOAUTH2, ServerSettings
from dashboard.models import Mailbox
from dashboard.sync.idle_inbox import InboxSyncs, Stats, Wanted, mark_idle, wanted_mailboxes
from dashboard.sync.idle_rules import idle_turn, reconnect_delay, rotation_turn
from dashboard.sync.runner import RunOptions
from dashboard.sync.tokens import access_token

log = logging.getLogger(__name__)

NO_IDLE = "the server does not offer IDLE"


@dataclass
class IdleConfig:
    """Timings (seconds); tests shorten them."""

    renew: float = 25 * 60  # RFC 2177: re-issue IDLE before 29 minutes
    reconcile: float = 3.0  # how often the wanted mailboxes are re-read
    rotate: float = 600.0  # turn length when there are more mailboxes than connections
    backoff_base: float = 2.0
    backoff_ceiling: float = 900.0
    busy_retry: float = 1.0  # the interval round holds the mailbox: ask again after (doubling)
    stop: float = 1.5  # shutdown budget for ending every IDLE


@dataclass
class Watch:
    """The watcher's record of one mailbox's IDLE."""

    wanted: Wanted
    link: IdleLink | None = None
    state: str = "waiting"  # waiting | opening | idling | renewing
    failures: int = 0
    retry_at: float = 0.0
    renew_at: float = 0.0
    no_idle: bool = False  # the server turned IDLE down: the interval round syncs it
    fd: int = -1  # the socket registered with the selector


class IdleSupervisor:
    """Keeps one IDLE per wanted mailbox (up to the cap) and syncs INBOX on new mail."""

    def __init__(
        self, engine: Engine, box: SecretBox, options: RunOptions, config: IdleConfig
    ) -> None:
        self.engine, self.box, self.options, self.config = engine, box, options, config
        self.watches: dict[int, Watch] = {}
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self.done: queue.SimpleQueue[tuple[int, IdleLink, str, object]] = queue.SimpleQueue()
        self.io = ThreadPoolExecutor(max_workers=4, thread_name_prefix="idle-io")
        self.marks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idle-mark")
        # The woken INBOX syncs share this event: a stop ends them after their current step.
        self.stopping = options.stop
        self.closing = 0  # connections being logged out, still counted against the cap
        self.cap = 0
        self.next_reconcile = 0.0
        self.thread = threading.Thread(target=self.watch, name="idle-watch", daemon=True)
        self.stats = Stats()
        self.inbox = InboxSyncs(engine, box, options, config.busy_retry, self.stopping, self.stats)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (the scheduler's start)."""
        self.marks.submit(mark_idle, self.engine, None, False)  # left over by a killed process
        self.thread.start()

    def stop(self) -> None:
        """End every IDLE (DONE, LOGOUT) within `config.stop` seconds, then return."""
        started, open_links = time.monotonic(), self.connections()
        self.stopping.set()
        self.poke()
        self.thread.join(self.config.stop)
        self.inbox.shutdown()
        self.marks.submit(mark_idle, self.engine, None, False)
        self.marks.shutdown(wait=True)
        log.info("IDLE stopped: %d connection(s) ended in %.2f s", open_links,
                 time.monotonic() - started)  # fmt: skip

    def poke(self) -> None:
        """Wake the watcher (a pool finished a step, or stop)."""
        with suppress(OSError):  # the buffer is full: the watcher is awake anyway
            self.wake_w.send(b"!")

    # --- the watcher thread -------------------------------------------------------------

    def watch(self) -> None:
        """The watcher's loop: socket events, finished steps, reconciling, renewals."""
        try:
            while not self.stopping.is_set():
                for key, _mask in self.selector.select(self.wait_seconds()):
                    if key.data is None:
                        self.drain_wake()
                    else:
                        self.on_readable(key.data)
                self.take_done()
                now = time.monotonic()
                if now >= self.next_reconcile:
                    self.reconcile(now)
                self.due_steps(now)
        except Exception:  # any: logged; the interval round still syncs everything
            log.exception("the IDLE watcher stopped unexpectedly")
        finally:
            self.end_all()

    def wait_seconds(self) -> float:
        """Until the next thing the watcher must do by itself."""
        times = [self.next_reconcile]
        room = self.connections() < self.cap  # else a finished close wakes the watcher
        for w in self.watches.values():
            if w.state == "idling":
                times.append(w.renew_at)
            elif w.state == "waiting" and not w.no_idle and room:
                times.append(w.retry_at)
        return max(0.0, min(times) - time.monotonic())

    def drain_wake(self) -> None:
        """Empty the wake-up socket."""
        try:
            while self.wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def on_readable(self, watch: Watch) -> None:
        """The server said something: new mail wakes a sync; an ended connection retries."""
        assert watch.link is not None
        news = watch.link.read()
        if news.new_mail:
            self.stats.events += 1
            self.inbox.want(watch.wanted.mailbox_id)
        if news.closed:
            log.info("IDLE of %s was dropped by the server", watch.wanted.address)
            self.drop(watch, failed=True)

    def reconcile(self, now: float) -> None:
        """Start and stop IDLEs to match the database (and the rotation when over the cap)."""
        self.next_reconcile = now + self.config.reconcile
        wanted, self.cap = wanted_mailboxes(self.engine)
        by_id = {w.mailbox_id: w for w in wanted}
        turn = rotation_turn(time.time(), self.config.rotate)
        chosen = idle_turn(list(by_id), self.cap, turn)
        for mailbox_id, watch in list(self.watches.items()):
            if mailbox_id not in chosen or by_id[mailbox_id].key != watch.wanted.key:
                self.drop(watch, failed=False)
                del self.watches[mailbox_id]
        for mailbox_id in sorted(chosen - self.watches.keys()):
            self.watches[mailbox_id] = Watch(by_id[mailbox_id])

    def due_steps(self, now: float) -> None:
        """Open the waiting IDLEs whose time has come (under the cap), renew the old ones."""
        for watch in self.watches.values():
            if watch.state == "idling" and now >= watch.renew_at:
                self.unregister(watch)
                watch.state = "renewing"
                self.io.submit(self.step, watch.wanted.mailbox_id, watch.link, "renew")
            elif watch.state == "waiting" and not watch.no_idle and now >= watch.retry_at:
                if self.connections() >= self.cap:
                    continue
                watch.link, watch.state = IdleLink(self.settings(watch.wanted)), "opening"
                self.stats.attempts += 1
                self.io.submit(self.step, watch.wanted.mailbox_id, watch.link, "open")

    def connections(self) -> int:
        """Open or opening connections, counted against the cap."""
        return self.closing + sum(1 for w in self.watches.values() if w.link is not None)

    def settings(self, wanted: Wanted) -> ServerSettings:
        """The IDLE connection's settings (the secret is decrypted in the pool's step)."""
        host, port, security, username, _secret, local, auth = wanted.key
        return ServerSettings(
            host, port, security, username, "", self.options.ca_file, self.options.timeout,
            local, auth,
        )  # fmt: skip

    def take_done(self) -> None:
        """Apply the steps the pool finished (stale ones, of a replaced link, are closed)."""
        while True:
            try:
                mailbox_id, link, step, outcome = self.done.get_nowait()
            except queue.Empty:
                return
            if step == "close":
                self.closing -= 1
                continue
            watch = self.watches.get(mailbox_id)
            if watch is None or watch.link is not link:
                self.close_link(link)
            elif isinstance(outcome, Exception):
                self.failed(watch, step, outcome)
            else:
                self.idling(watch, first=step == "open", new_mail=bool(outcome))

    def idling(self, watch: Watch, *, first: bool, new_mail: bool) -> None:
        """A link is idling: watch its socket; a new connection syncs INBOX once (mail that
        came while it was down)."""
        assert watch.link is not None
        watch.state, watch.failures = "idling", 0
        watch.renew_at = time.monotonic() + self.config.renew
        watch.fd = watch.link.fileno()
        self.selector.register(watch.fd, selectors.EVENT_READ, watch)
        if first:
            log.info("IDLE on %s", watch.wanted.address)
            self.marks.submit(mark_idle, self.engine, watch.wanted.mailbox_id, True)
        if first or new_mail:
            self.inbox.want(watch.wanted.mailbox_id)

    def failed(self, watch: Watch, step: str, error: Exception) -> None:
        """An open or renewal failed: back off, or give up when the server has no IDLE."""
        if isinstance(error, ImapError) and error.raw == NO_IDLE:
            watch.no_idle = True
            log.info("%s offers no IDLE: synced by the interval round", watch.wanted.address)
        else:
            log.info("IDLE %s of %s failed: %s", step, watch.wanted.address, error)
        if step == "renew":
            self.marks.submit(mark_idle, self.engine, watch.wanted.mailbox_id, False)
        watch.link = None
        self.retry_later(watch)

    def drop(self, watch: Watch, *, failed: bool) -> None:
        """Stop a watch's connection; retry later when it failed."""
        link = watch.link
        if watch.state in ("idling", "renewing"):
            self.marks.submit(mark_idle, self.engine, watch.wanted.mailbox_id, False)
        if watch.state == "idling" and link is not None:
            self.unregister(watch)
            self.close_link(link, graceful=not failed)
        watch.link = None  # an opening or renewing link is closed when its step reports
        if failed:
            self.retry_later(watch)

    def retry_later(self, watch: Watch) -> None:
        """Wait before reconnecting: exponential, with jitter (never a reconnect storm)."""
        watch.failures += 1
        delay = reconnect_delay(
            watch.failures, random.random(), self.config.backoff_base, self.config.backoff_ceiling
        )
        watch.state, watch.retry_at = "waiting", time.monotonic() + delay

    def unregister(self, watch: Watch) -> None:
        """Stop watching a link's socket."""
        with suppress(KeyError, ValueError, OSError):  # already gone
            self.selector.unregister(watch.fd)

    def close_link(self, link: IdleLink, *, graceful: bool = True) -> None:
        """Log a link out in the pool (counted against the cap until it is gone)."""
        self.closing += 1
        self.io.submit(self.step, 0, link, "close", graceful)

    def end_all(self) -> None:
        """At stop: DONE and LOGOUT every IDLE in parallel, within the stop budget."""
        links = [w.link for w in self.watches.values() if w.link is not None]
        futures = [self.io.submit(link.close) for link in links]
        wait(futures, timeout=self.config.stop * 0.8)
        for link in links:  # whatever did not finish in time is dropped
            link.close(graceful=False)
        self.io.shutdown(wait=False, cancel_futures=True)
        self.selector.close()
        self.wake_r.close()
        self.wake_w.close()

    # --- the pools ------------------------------------------------------------------------

    def step(self, mailbox_id: int, link: IdleLink, step: str, graceful: bool = True) -> None:
        """One blocking step of a link, in the pool; the outcome goes back to the watcher."""
        outcome: object = None
        try:
            if step == "open":
                link.settings = self.with_password(mailbox_id, link.settings)
                link.open()
            elif step == "renew":
                outcome = link.renew()
                self.stats.renewals += 1
            else:
                link.close(graceful=graceful)
        except Exception as exc:  # any: the watcher decides (back off, or give up)
            outcome = exc
            if step == "renew":
                link.close(graceful=False)
        self.done.put((mailbox_id, link, step, outcome))
        self.poke()

    def with_password(self, mailbox_id: int, settings: ServerSettings) -> ServerSettings:
        """The settings with the mailbox's password, decrypted only for this login."""
        with read_session(self.engine) as session:
            secret = session.scalar(select(Mailbox.secret).where(Mailbox.id == mailbox_id))
        if secret is None:
            raise ImapError("auth_failed", "disconnected", host=settings.host, port=settings.port)
        if settings.auth == XOAUTH2:  # a fresh access token (refreshed and saved when due)
            token = access_token(self.engine, mailbox_id, self.box, self.options.oauth)
            return replace(settings, password=token)
        return replace(settings, password=self.box.decrypt(secret))
