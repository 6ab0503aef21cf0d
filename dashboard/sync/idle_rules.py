"""The IDLE supervisor's rules, pure: whose turn it is to idle, and how long to wait after a
failure. Plain values in and out, so a table of cases tests them (no sockets, no clock)."""

from __future__ import annotations

from collections.abc import Sequence


def idle_turn(mailbox_ids: Sequence[int], cap: int, turn: int) -> frozenset[int]:
    """The mailboxes that idle during rotation `turn`.

    All of them while they fit under the cap. Beyond it they take turns: sorted by id, a
    window of `cap` mailboxes that moves on by `cap` every turn (wrapping around), so every
    mailbox idles a fair share of the time and the others are synced by the interval round.
    """
    ids = sorted(set(mailbox_ids))
    if cap <= 0:
        return frozenset()
    if len(ids) <= cap:
        return frozenset(ids)
    start = (turn * cap) % len(ids)
    return frozenset((ids + ids)[start : start + cap])


def reconnect_delay(failures: int, jitter: float, base: float, ceiling: float) -> float:
    """Seconds to wait before reconnecting after `failures` consecutive failures (>= 1).

    Exponential (base, 2 base, 4 base...) up to `ceiling`, then "equal jitter": half of the
    step is fixed and half random (`jitter` in [0, 1)), so many mailboxes on a server that
    just restarted do not all come back in the same second.
    """
    step = min(ceiling, base * 2 ** max(failures - 1, 0))
    return step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)


def rotation_turn(now: float, period: float) -> int:
    """The rotation turn at `now` (seconds since the epoch) for turns of `period` seconds."""
    return int(now // period) if period > 0 else 0
