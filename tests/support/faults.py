"""Faults the tests hand to the sync: a step callback that stops a run dead after step k.

The engine reports each step (a FETCH of headers or bodies, a committed batch, a finished
folder) to `RunOptions.on_step`; a StepCounter passed there raises HardStop after k of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class HardStop(BaseException):
    """Stops a run as kill -9 would leave it.

    Not an Exception, like SystemExit: the runner's error ladder lets it through, so
    nothing is recorded or released (the lease stays held, the history row stays open).
    """


@dataclass
class StepCounter:
    """Counts the engine's steps; from the `stop_after`-th on, every step raises HardStop."""

    stop_after: int | None = None
    count: int = 0
    # Two lanes (IMAP connections) report steps from two threads.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, name: str) -> None:
        """Note one step; raise HardStop when the budget is used up."""
        with self.lock:
            self.count += 1
            if self.stop_after is not None and self.count >= self.stop_after:
                raise HardStop(f"stopped after step {self.count} ({name})")
