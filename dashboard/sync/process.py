"""The sync in its own process: started, watched and stopped by the web process (run.py).

Why a process: pages and an import in one interpreter share one core (the GIL); a page then
waits behind the import's parsing (bench/RESULTS.md, "Web during an import").

Invariants: the child never outlives its parent (it asks the kernel for SIGTERM when the
parent dies, and checks the parent's pid every second where the kernel cannot); a stop asks
the child politely (SIGTERM) and kills it after a grace period; a child that exits on its own
is restarted with a growing delay, reset once it ran for a while. Stdlib only, no Flask.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # seconds, one more step per crash
HEALTHY_AFTER = 60.0  # a child that ran this long starts again from the first delay
STOP_GRACE = 10.0  # seconds a stopping child may take to end its batch before it is killed


def restart_delay(crashes_in_a_row: int) -> float:
    """Seconds to wait before restarting after the n-th crash in a row (n >= 1)."""
    return RESTART_DELAYS[min(max(crashes_in_a_row, 1), len(RESTART_DELAYS)) - 1]


class ChildSupervisor:
    """Runs `command` as a child process, restarts it when it exits, stops it on `stop()`.

    The child inherits stdout and stderr: its log lines reach the same terminal.
    """

    def __init__(
        self, command: Sequence[str], *, name: str = "sync", grace: float = STOP_GRACE
    ) -> None:
        self.command, self.name, self.grace = list(command), name, grace
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        # The child's death signal is tied to the thread that started it (prctl), so that
        # thread must live as long as the parent: it is this loop, which ends only on stop().
        self._thread = threading.Thread(target=self._run, name=f"{name}-supervisor", daemon=True)

    def start(self) -> None:
        """Start the child and keep it running until `stop()`."""
        self._thread.start()

    def _spawn(self) -> subprocess.Popen | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self.process = subprocess.Popen(self.command)
            log.info("%s process started (pid %d)", self.name, self.process.pid)
            return self.process

    def _run(self) -> None:
        crashes = 0
        while True:
            started = time.monotonic()
            process = self._spawn()
            if process is None:
                return
            status = process.wait()
            if self._stopping.is_set():
                return
            crashes = 1 if time.monotonic() - started >= HEALTHY_AFTER else crashes + 1
            delay = restart_delay(crashes)
            log.error(
                "%s process %d exited with status %s; restarting it in %.0f s",
                self.name, process.pid, status, delay,
            )  # fmt: skip
            if self._stopping.wait(delay):
                return

    def stop(self) -> int | None:
        """Ask the child to stop (SIGTERM), kill it after the grace period; its exit status."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.grace)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s process %d did not stop within %.0f s: killing it",
                    self.name, process.pid, self.grace,
                )  # fmt: skip
                process.kill()
                process.wait()
        self._thread.join(self.grace)
        log.info("%s process stopped (status %s)", self.name, process.returncode)
        return process.returncode


def die_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> None:
    """Make this process receive SIGTERM when `parent_pid` dies (even by kill -9).

    Linux delivers it through PR_SET_PDEATHSIG; elsewhere, and in case the parent died before
    the request was made, a daemon thread compares the parent's pid every `poll_seconds`.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        log.warning("the parent process %d is gone: stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
