"""Read queries for the lead list: filters, search (names, addresses, email full text), keyset
pages. The number of queries per page is fixed, whatever the number of rows shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    TextClause,
    and_,
    bindparam,
    column,
    false,
    func,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col

from dashboard.db import text_search
from dashboard.db.dialect import POSTGRES, SQLITE
from dashboard.leads.access import Access, Relation, Viewer, level_of
from dashboard.leads.access_queries import in_relations
from dashboard.leads.text import SUBSTRING_FROM, field_query, fts_query, query_words
from dashboard.leads.timeline import USER_NAMES
from dashboard.models import EmailLead, Lead, LeadAddress
from dashboard.states import Direction, LeadSource, LeadState

PAGE_SIZE = 50
SORTS: dict[str, tuple[Mapped[Any], bool]] = {
    "last_contact": (col(Lead.last_contact_at), True),
    "name": (col(Lead.name), False),
    "created": (col(Lead.created_at), True),
}


@dataclass
class LeadFilters:
    """What the list shows, as read from the URL."""

    q: str = ""
    owner_id: int | None = None  # "meus leads"
    status: str = ""  # "" | awaiting | reply
    source: str = ""  # "" | sync | manual
    sort: str = "last_contact"
    after: str = ""  # keyset cursor: "<value>|<id>"


# What a line of the list shows (and its sort keys), read as plain rows: the list needs 9 of
# Lead's 14 columns and no ORM objects.
LIST_COLUMNS = (
    Lead.id, Lead.name, Lead.company_name, Lead.owner_id, Lead.created_at, Lead.email_count,
    Lead.last_contact_at, Lead.last_direction, Lead.last_contact_user_id,
)  # fmt: skip


@dataclass
class LeadRow:
    """One line of the list."""

    lead: Any  # a row of LIST_COLUMNS
    addresses: list[str] = field(default_factory=list)
    owner: str = ""
    last_rep: str = ""
    badge: str = ""  # "" | awaiting | reply


def badge(lead: Lead, now: datetime, stale_days: int) -> str:
    """ "aguardando resposta" when our last email waits N days; "responder" when theirs waits."""
    if lead.last_direction == Direction.IN:
        return "reply"
    if (
        lead.last_direction == Direction.OUT
        and lead.last_contact_at
        and lead.last_contact_at < now - timedelta(days=stale_days)
    ):
        return "awaiting"
    return ""


def status_condition(status: str, now: datetime, stale_days: int) -> ColumnElement[bool] | None:
    """The list's "reply" and "awaiting" filters, in SQL: the rule of `badge`."""
    if status == "reply":
        return col(Lead.last_direction) == Direction.IN
    if status == "awaiting":
        return and_(
            col(Lead.last_direction) == Direction.OUT,
            col(Lead.last_contact_at) < now - timedelta(days=stale_days),
        )
    return None


def waiting_counts(
    session: Session, *, owner_id: int, now: datetime, stale_days: int
) -> dict[str, int]:
    """How many of the owner's active leads the list's "reply" and "awaiting" filters show."""
    counts = {}
    for status in ("reply", "awaiting"):
        query = select(func.count()).where(
            Lead.state == LeadState.ACTIVE,
            Lead.owner_id == owner_id,
            status_condition(status, now, stale_days),
        )
        counts[status] = session.scalar(query) or 0
    return counts


def fts_ids(match: str) -> TextClause:
    """Row ids of the emails matching an FTS5 query."""
    return text("SELECT rowid FROM email_fts WHERE email_fts MATCH :m").bindparams(
        bindparam("m", match, unique=True)
    )


def email_text_ids(q: str, dialect: str) -> Callable[[tuple[str, ...]], TextClause] | None:
    """For the words of `q` (3+ characters), the ids of the emails matching them in some
    columns; None when `q` has no such word. FTS5 on SQLite, tsvector on PostgreSQL."""
    if dialect == POSTGRES:
        words = query_words(q, min_length=SUBSTRING_FROM)
        return (lambda columns: text_search.email_ids(words, columns)) if words else None
    match = fts_query(q, min_length=SUBSTRING_FROM)
    return (lambda columns: fts_ids(scoped(match, columns))) if match is not None else None


def matching_lead_ids(
    viewer: Viewer, visibility: str, email_ids: Callable[[tuple[str, ...]], TextClause]
) -> Select | CompoundSelect:
    """Leads with an email the viewer may find by `match`: each email is matched only in the
    columns its access level allows (`Access.search_columns` of `level_of` its relation).

    A relation allowed more columns is matched in the narrower set too: that finds nothing
    more (a match in fewer columns is a match in more) and keeps each part to a cheap form
    of `in_relations`. Works on email ids only (FTS rowids -> emaillead primary key): the
    email rows, 3 KB+ each, are not read for every match (~0.4 us per matching email).
    """
    levels = {relation: level_of(viewer, relation, visibility) for relation in Relation}
    scopes = sorted({level.search_columns for level in levels.values()} - {()}, key=len)
    parts = [
        select(EmailLead.lead_id).where(
            EmailLead.email_id.in_(email_ids(columns)),
            in_relations(
                viewer.id,
                frozenset(
                    r for r, level in levels.items() if set(columns) <= set(level.search_columns)
                ),
                EmailLead.email_id,
            ),
        )
        for columns in reversed(scopes)  # the widest first
    ]
    if not parts:
        return select(EmailLead.lead_id).where(false())
    return parts[0] if len(parts) == 1 else union(*parts)


def scoped(match: str, columns: tuple[str, ...]) -> str:
    """The FTS5 query limited to these columns (no filter when they are all of them)."""
    if set(columns) == set(Access.FULL.search_columns):
        return match
    return f"{{{' '.join(columns)}}} : ({match})"


def lead_index_ids(table: str, match: str) -> TextClause:
    """Row ids (lead ids) of an FTS5 index of the lead search text matching a query."""
    # Only the two index names below are formatted into the statement, never user text.
    return text(f"SELECT rowid FROM {table} WHERE {table} MATCH :m").bindparams(  # noqa: S608
        bindparam("m", match, unique=True)
    )


# Below this many matches a search reads its page from the matches (looked up by id, then
# sorted) instead of walking the sort index and testing each lead, which reads every lead
# when few or none match: "pr" (no match) 4.4 ms -> 0.1 ms at 20,000 leads, where 945
# matches cost 2.5 ms read by id and the index walk stops early.
FEW_MATCHES = 250


def few_field_matches(connection: Any, q: str) -> bool:
    """Whether only the lead fields answer `q` (no email text: under 3 letters) and fewer
    than FEW_MATCHES leads match its first index (an upper bound of the matches)."""
    query = field_query(q)
    if query is None or fts_query(q, min_length=SUBSTRING_FROM) is not None:
        return False
    if connection.dialect.name == POSTGRES:
        first = (
            text_search.lead_substring_ids(list(query.pieces))
            if query.pieces
            else text_search.lead_prefix_ids(list(query.words))
        )
        ids = first.columns(column("id")).subquery()
        few = select(ids.c.id).limit(FEW_MATCHES).subquery()
        return connection.execute(select(func.count()).select_from(few)).scalar_one() < FEW_MATCHES
    table, match = (
        ("lead_trgm", query.substrings) if query.substrings else ("lead_words", query.prefixes)
    )
    count = text(
        # Only the two index names are formatted into the statement, never user text.
        f"SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH :m "  # noqa: S608
        f"LIMIT {FEW_MATCHES})"
    )
    return connection.execute(count, {"m": match}).scalar_one() < FEW_MATCHES


def fields_condition(q: str, dialect: str = SQLITE) -> ColumnElement[bool]:
    """Name, company or address match every piece of `q`: a piece of 3+ characters anywhere
    (trigram index, `lead_trgm`), a shorter one as the start of a word (`lead_words`, whose
    1- and 2-character prefix index answers the first keystrokes without reading every lead).
    """
    query = field_query(q)
    if query is None:
        return false()
    if dialect == POSTGRES:
        pg_parts = [
            Lead.id.in_(ids)
            for ids in (
                text_search.lead_substring_ids(list(query.pieces)) if query.pieces else None,
                text_search.lead_prefix_ids(list(query.words)) if query.words else None,
            )
            if ids is not None
        ]
        return and_(*pg_parts)
    parts = [
        Lead.id.in_(lead_index_ids(table, match))
        for table, match in (("lead_trgm", query.substrings), ("lead_words", query.prefixes))
        if match
    ]
    return and_(*parts)


def search_condition(
    q: str, viewer: Viewer, visibility: str, dialect: str = SQLITE
) -> ColumnElement[bool]:
    """Leads whose name, company or addresses match `q`, or whose visible emails match its
    words of 3+ characters (a shorter prefix matches most emails: ~1 s at 300,000)."""
    by_fields = fields_condition(q, dialect)
    email_ids = email_text_ids(q, dialect)
    if email_ids is None:
        return by_fields
    return or_(by_fields, Lead.id.in_(matching_lead_ids(viewer, visibility, email_ids)))


def keyset(sort: str, after: str) -> ColumnElement[bool] | None:
    """The WHERE clause that starts a page after the given (value, id)."""
    column, descending = SORTS[sort]
    value, _, last_id = after.rpartition("|")
    if not last_id.isdigit() or len(last_id) > 18:
        return None
    parsed = parse_sort_value(sort, value)
    if parsed is None:  # leads without a value sort last
        return and_(column.is_(None), Lead.id < int(last_id)) if descending else None
    if descending:
        return or_(
            column < parsed, and_(column == parsed, Lead.id < int(last_id)), column.is_(None)
        )
    return or_(column > parsed, and_(column == parsed, Lead.id > int(last_id)))


def parse_sort_value(sort: str, value: str) -> str | datetime | None:
    """The cursor's value in the sort column's type."""
    if sort == "name":
        return value
    if value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cursor_of(lead: Any, sort: str) -> str:
    """The keyset cursor after this lead."""
    value = getattr(lead, SORTS[sort][0].key)
    shown = value.isoformat() if isinstance(value, datetime) else (value or "")
    return f"{shown}|{lead.id}"


def list_leads(
    session: Session,
    filters: LeadFilters,
    *,
    viewer: Viewer,
    visibility: str,
    stale_days: int,
    now: datetime,
) -> tuple[list[LeadRow], str | None]:
    """One page of leads and the cursor of the next page (None on the last page)."""
    column, descending = SORTS.get(filters.sort, SORTS["last_contact"])
    connection = session.connection()
    active = Lead.state == LeadState.ACTIVE
    if filters.q.strip() and few_field_matches(connection, filters.q):
        # `state || ''` is not indexed: SQLite looks the few matches up by id and sorts them
        # rather than walking the (state, sort column) index past every lead.
        active = (Lead.state + "") == LeadState.ACTIVE
    query = select(*LIST_COLUMNS).where(active)
    if filters.owner_id:
        query = query.where(Lead.owner_id == filters.owner_id)
    if filters.source in tuple(LeadSource):
        query = query.where(Lead.source == filters.source)
    if (waiting := status_condition(filters.status, now, stale_days)) is not None:
        query = query.where(waiting)
    if filters.q.strip():
        query = query.where(
            search_condition(filters.q, viewer, visibility, connection.dialect.name)
        )
    if filters.after and (start := keyset(filters.sort, filters.after)) is not None:
        query = query.where(start)
    order = (column.desc().nulls_last(), Lead.id.desc()) if descending else (column, Lead.id)
    leads = connection.execute(query.order_by(*order).limit(PAGE_SIZE + 1)).all()
    more = len(leads) > PAGE_SIZE
    leads = leads[:PAGE_SIZE]
    rows = decorate(session, leads, now, stale_days)
    return rows, cursor_of(
        leads[-1], filters.sort if filters.sort in SORTS else "last_contact"
    ) if more else None


def decorate(session: Session, leads: list, now: datetime, stale_days: int) -> list[LeadRow]:
    """Addresses and user names for a page of leads: two queries, however many rows."""
    addresses = addresses_by_lead(session, [lead.id for lead in leads])
    user_ids = {u for lead in leads for u in (lead.owner_id, lead.last_contact_user_id) if u}
    names = dict(session.connection().execute(USER_NAMES, {"ids": list(user_ids)}).all())
    return [
        LeadRow(
            lead,
            addresses.get(lead.id, []),
            names.get(lead.owner_id, ""),
            names.get(lead.last_contact_user_id, ""),
            badge(lead, now, stale_days),
        )
        for lead in leads
    ]


def addresses_by_lead(session: Session, lead_ids: list[int]) -> dict[int, list[str]]:
    """Each lead's addresses, oldest first, in one query."""
    addresses: dict[int, list[str]] = {}
    for lead_id, address in session.execute(
        select(LeadAddress.lead_id, LeadAddress.address)
        .where(LeadAddress.lead_id.in_(lead_ids))
        .order_by(LeadAddress.id)
    ):
        addresses.setdefault(lead_id, []).append(address)
    return addresses
