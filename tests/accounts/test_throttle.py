"""The login throttle's rule: which recent failure counts lock a login attempt."""

from __future__ import annotations

import pytest

from dashboard.accounts.throttle import FailureCounts, LoginLimits, failure_keys, is_locked

LIMITS = LoginLimits(pair=10, account=50, address=30)


@pytest.mark.parametrize(
    ("pair", "account", "address", "locked"),
    [
        (0, 0, 0, False),
        (9, 9, 9, False),
        (10, 10, 10, True),  # one account guessed from one place
        (0, 49, 29, False),
        (0, 50, 0, True),  # one account guessed from many places
        (0, 0, 30, True),  # many accounts sprayed from one place
        (3, 49, 29, False),
    ],
)
def test_which_counts_lock(pair: int, account: int, address: int, locked: bool) -> None:
    assert is_locked(FailureCounts(pair, account, address), LIMITS) is locked


def test_the_account_is_keyed_by_its_lowercased_address() -> None:
    assert failure_keys(" Ana@Acme.test ", "10.0.0.1") == {
        "pair": "ana@acme.test 10.0.0.1",
        "account": "ana@acme.test",
        "ip": "10.0.0.1",
    }
