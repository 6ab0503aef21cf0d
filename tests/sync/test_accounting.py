"""The accounting rules of a round (table tests, no database)."""

from __future__ import annotations

import pytest

from dashboard.sync.accounting import adds_up, unaccounted


@pytest.mark.parametrize(
    ("fetched", "stored", "seen_again", "skipped", "expected"),
    [
        (0, 0, 0, {}, True),
        (10, 6, 1, {"parse_error": 2, "no_lead": 1}, True),
        (10, 6, 0, {"parse_error": 2, "no_lead": 1}, False),  # a duplicate counted nowhere
        (3, 2, 0, {"no_lead": 2}, False),  # a relinked skip counted twice
    ],
)
def test_a_rounds_numbers_add_up(fetched, stored, seen_again, skipped, expected) -> None:  # type: ignore[no-untyped-def]
    assert adds_up(fetched, stored, seen_again, skipped) is expected


@pytest.mark.parametrize(
    ("fetched", "sighted", "ledgered", "expected"),
    [
        ([1, 2, 3], [1, 2], [3], []),
        ([5, 1, 3], [1], [], [3, 5]),
        ([], [4], [4], []),
        ([2, 2], [], [2], []),
    ],
)
def test_unaccounted_uids_are_those_without_any_row(fetched, sighted, ledgered, expected) -> None:  # type: ignore[no-untyped-def]
    assert unaccounted(fetched, sighted, ledgered) == expected
