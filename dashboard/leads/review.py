"""The review queue in the database: which suggestions match a filter, a page of them, their
domains, and accepting or dismissing many at once.

Plain functions over a session, no Flask. Which suggestions an action covers is decided by
`dashboard.leads.selection.covered` over the ids matching the filter at the time of the
action; these functions only read those ids and apply the decision. Every query keeps to
`state = suggested`, so no action here can reach a lead already in the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlmodel import Session

from dashboard.leads.selection import PAGE_SIZE, ReviewFilter, Selection, covered
from dashboard.leads.service import delete_leads
from dashboard.leads.text import fold
from dashboard.models import DismissedAddress, Lead, LeadAddress
from dashboard.states import LeadState


def like_escaped(text: str) -> str:
    """Text for a LIKE pattern, its wildcards taken literally (escape character "\\")."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching(flt: ReviewFilter) -> ColumnElement[bool]:
    """SQL: the lead is a suggestion and matches the filter."""
    parts = [Lead.state == LeadState.SUGGESTED]
    if flt.q:
        words = fold(flt.q).split()
        parts += [Lead.search_text.like(f"%{like_escaped(w)}%", escape="\\") for w in words]
    if flt.domain:
        at_domain = f"%@{like_escaped(flt.domain)}"
        parts.append(
            exists().where(
                LeadAddress.lead_id == Lead.id, LeadAddress.address.like(at_domain, escape="\\")
            )
        )
    return and_(*parts)


def count_matching(session: Session, flt: ReviewFilter) -> int:
    """How many suggestions match the filter."""
    return session.scalar(select(func.count()).select_from(Lead).where(matching(flt))) or 0


def page_of(session: Session, flt: ReviewFilter, page: int) -> list[Lead]:
    """One page of the matching suggestions, newest first (page 1 is the first)."""
    return list(
        session.scalars(
            select(Lead)
            .where(matching(flt))
            .order_by(Lead.created_at.desc(), Lead.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )


def newest_id(session: Session) -> int:
    """The highest id among waiting suggestions (0 when none): the bound of "all matching"."""
    return session.scalar(select(func.max(Lead.id)).where(Lead.state == LeadState.SUGGESTED)) or 0


def domain_counts(session: Session) -> Counter[str]:
    """Waiting suggestions per domain of their addresses (a lead counts once per domain)."""
    rows = session.execute(
        select(LeadAddress.lead_id, LeadAddress.address)
        .join(Lead, Lead.id == LeadAddress.lead_id)
        .where(Lead.state == LeadState.SUGGESTED)
    ).all()
    # Stored addresses are canonical (lowercased, valid): the domain is what follows the "@".
    return Counter(domain for _, domain in {(i, a.rpartition("@")[2]) for i, a in rows})


def covered_ids(
    session: Session,
    flt: ReviewFilter,
    selection: Selection,
    allowed: ColumnElement[bool] | None = None,
) -> list[int]:
    """The suggestions an action on this selection applies to, read from the filter now;
    `allowed` narrows them to those the reviewer may act on."""
    if selection.empty:
        return []
    query = select(Lead.id).where(matching(flt))
    if allowed is not None:
        query = query.where(allowed)
    if not selection.everything:  # ticked rows: ask only about them
        query = query.where(Lead.id.in_(sorted(selection.ids)))
    return covered(selection, session.scalars(query))


def accept(session: Session, lead_ids: Iterable[int], reviewer_id: int) -> int:
    """Turn these suggestions into leads; the reviewer owns those that had no owner."""
    accepted = 0
    for ids in chunks(lead_ids):
        done = session.execute(
            update(Lead)
            .where(Lead.id.in_(ids), Lead.state == LeadState.SUGGESTED)
            .values(state=LeadState.ACTIVE, owner_id=func.coalesce(Lead.owner_id, reviewer_id)),
            execution_options={"synchronize_session": False},
        )
        accepted += done.rowcount or 0
    session.expire_all()  # Lead objects loaded earlier must not keep the old state
    return accepted


def dismiss(session: Session, lead_ids: Iterable[int], reviewer_id: int) -> int:
    """Forget these suggestions; their addresses are never suggested again."""
    dismissed = 0
    for ids in chunks(lead_ids):
        remember_dismissed(session, ids, reviewer_id)
        delete_leads(session, ids)
        dismissed += len(ids)
    return dismissed


def remember_dismissed(session: Session, lead_ids: list[int], reviewer_id: int) -> None:
    """Record the addresses of these suggestions as dismissed (the sync reads them)."""
    addresses = list(
        dict.fromkeys(
            session.scalars(select(LeadAddress.address).where(LeadAddress.lead_id.in_(lead_ids)))
        )
    )
    known = set(
        session.scalars(
            select(DismissedAddress.address).where(DismissedAddress.address.in_(addresses))
        )
    )
    session.add_all(
        DismissedAddress(address=a, user_id=reviewer_id) for a in addresses if a not in known
    )
    session.flush()


CHUNK = 500  # ids per statement: SQLite bounds the parameters of one statement


def chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """The ids in lists of at most CHUNK."""
    ordered = list(ids)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]
