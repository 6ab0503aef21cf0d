"""Every message accounted for: the two checks a round's numbers and rows must pass.

Pure: standard library only. A fetched message ends a round in exactly one of three ways:
stored (a new email), seen again (a copy of an email already stored: another folder,
another mailbox, or the same message twice in one batch) or skipped for one reason. So a
round's counts add up, and every fetched (folder, UIDVALIDITY, UID) leaves a Sighting or
a skip-ledger row, which is what the health figures count against the server's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def adds_up(fetched: int, stored: int, seen_again: int, skipped: Mapping[str, int]) -> bool:
    """True when fetched = stored + seen again + skipped (all reasons)."""
    return fetched == stored + seen_again + sum(skipped.values())


def unaccounted(
    fetched: Iterable[int], sighted: Iterable[int], ledgered: Iterable[int]
) -> list[int]:
    """The fetched UIDs that left neither a Sighting nor a ledger row, in order."""
    return sorted(set(fetched) - set(sighted) - set(ledgered))
