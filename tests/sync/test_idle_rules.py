"""The IDLE supervisor's pure rules: whose turn it is to idle, and the reconnect backoff."""

from __future__ import annotations

import pytest

from dashboard.sync.idle_rules import idle_turn, reconnect_delay, rotation_turn


@pytest.mark.parametrize(
    ("ids", "cap", "turn", "expected"),
    [
        ([3, 1, 2], 50, 0, {1, 2, 3}),  # under the cap: everyone idles, every turn
        ([3, 1, 2], 50, 7, {1, 2, 3}),
        ([1, 2, 3, 4, 5], 2, 0, {1, 2}),  # over the cap: a window of `cap`, by id
        ([1, 2, 3, 4, 5], 2, 1, {3, 4}),
        ([1, 2, 3, 4, 5], 2, 2, {5, 1}),  # wraps around
        ([1, 2, 3, 4, 5], 2, 3, {2, 3}),
        ([1, 2, 3], 0, 0, set()),  # cap 0: nobody idles, the interval syncs all
        ([], 5, 0, set()),
    ],
)
def test_idle_turn_keeps_under_the_cap_and_rotates(ids, cap, turn, expected):
    assert idle_turn(ids, cap, turn) == expected


def test_every_mailbox_gets_its_turn_when_there_are_more_than_the_cap():
    ids = list(range(1, 8))
    turns = [idle_turn(ids, 3, turn) for turn in range(7)]
    assert all(len(t) == 3 for t in turns)
    counts = {i: sum(i in t for t in turns) for i in ids}
    assert set(counts.values()) == {3}  # 7 turns x 3 slots over 7 mailboxes: 3 each


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (1, 0.0, 1.0),  # base 2 s: half fixed, half jitter
        (1, 0.999, 1.999),
        (2, 0.0, 2.0),
        (3, 0.5, 6.0),  # step 8 -> 4 + 2
        (20, 0.0, 30.0),  # the ceiling (60) halves to 30 at the lowest jitter
        (20, 1.0, 60.0),
        (0, 0.0, 1.0),  # never below the first step
    ],
)
def test_reconnect_delay_doubles_to_a_ceiling_with_jitter(failures, jitter, expected):
    assert reconnect_delay(failures, jitter, base=2.0, ceiling=60.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("now", "period", "expected"), [(0, 600, 0), (599.9, 600, 0), (1200, 600, 2), (5, 0, 0)]
)
def test_rotation_turn_counts_whole_periods(now, period, expected):
    assert rotation_turn(now, period) == expected
