"""Which suggestions a review-queue action covers (pure).

The queue shows suggested leads matching a filter (words, a domain), a page at a time. A bulk
action names its suggestions one of two ways: the rows ticked on the page (ids), or "all N
matching the filter". The second is resolved on the server from the filter, never from ids
the browser holds, and only up to the newest suggestion the page showed (`upto`): a
suggestion the sync adds while the reviewer reads the page is not swept into a decision
nobody saw it in. Either way an action covers only suggestions that still match the filter,
so a guessed id of an active lead, or of a suggestion outside the filter, is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PAGE_SIZE = 25
MAX_QUERY = 200
MAX_TICKED = 10 * PAGE_SIZE  # rows come from one page; more is not a person ticking
# Letters, digits, dots and hyphens (IDN domains keep their letters): anything else is no domain.
DOMAIN = re.compile(r"[\w-]+(\.[\w-]+)+")


def clean_domain(text: str) -> str:
    """A domain as typed ("@Fornecedor.com.br ", "fornecedor.com.br") in stored form, or ""."""
    domain = text.strip().lower().removeprefix("@")
    return domain if DOMAIN.fullmatch(domain) else ""


def positive_int(text: str | None) -> int | None:
    """A positive integer, or None for anything else."""
    return int(text) if text and text.isdigit() and int(text) > 0 else None


@dataclass(frozen=True)
class ReviewFilter:
    """What the queue is narrowed to: words of name, company or address, and a domain."""

    q: str = ""
    domain: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ReviewFilter:
        """The filter as it appears in a URL or a form (unknown values are ignored)."""
        return cls(
            q=(args.get("q") or "").strip()[:MAX_QUERY],
            domain=clean_domain(args.get("domain") or ""),
        )

    def as_args(self) -> dict[str, str]:
        """The filter for a URL, without empty values."""
        return {key: value for key, value in (("q", self.q), ("domain", self.domain)) if value}


@dataclass(frozen=True)
class Selection:
    """The suggestions a bulk action names: ticked ids, or everything matching up to `upto`."""

    ids: frozenset[int] = frozenset()
    everything: bool = False
    upto: int | None = None

    @classmethod
    def from_form(
        cls, ids: Iterable[str], scopes: Iterable[str], page_ids: Iterable[str], upto: str | None
    ) -> Selection:
        """Read the form: `lead` checkboxes; `scope` "page" adds the page's rows (`page_lead`),
        so the box works without a script; `scope` "matching", bounded by `upto`, wins."""
        scopes = set(scopes)
        if "matching" in scopes:
            return cls(everything=True, upto=positive_int(upto))
        chosen = [*ids, *(page_ids if "page" in scopes else ())][:MAX_TICKED]
        return cls(ids=frozenset(n for n in map(positive_int, chosen) if n is not None))

    @property
    def empty(self) -> bool:
        """Nothing was chosen."""
        return not self.everything and not self.ids


def covered(selection: Selection, matching: Iterable[int]) -> list[int]:
    """The suggestions the action applies to, given the ids of those matching the filter now."""
    if selection.everything:
        if selection.upto is None:
            return []  # a form without its bound is not trusted to mean "everything"
        return sorted(n for n in matching if n <= selection.upto)
    return sorted(n for n in matching if n in selection.ids)


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages `total` suggestions fill (at least one, for the empty queue)."""
    return max(1, -(-total // size))


def page_number(text: str | None, total: int, size: int = PAGE_SIZE) -> int:
    """The page asked for (1-based), kept within the pages there are."""
    return min(positive_int(text) or 1, page_count(total, size))
