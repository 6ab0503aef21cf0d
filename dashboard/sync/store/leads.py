"""Leads in the store: which leads a batch links to, the new ones it creates, and the email
summaries on every lead.

Invariants: a lead is found by `canonical_address` (mail/addresses.py), the form its
addresses are stored in, so `LeadAddress.address` has one row per person. A lead created
here flags its address's past "no lead" skips for relinking (ledger.mark_relink), so mail
skipped before it existed is linked on the next round. The summaries (count, first/last
contact, direction) are recomputed from the links in the transaction that changes them.
The search text (name, company, addresses: sync/search_text.py) is recomputed here, by
`refresh_search_text`, for every lead whose name, company or addresses change, whoever
changes them (this store, leads/service, the CLI); migration 0009 backfilled the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import bindparam, select, text, update
from sqlmodel import Session

from dashboard.db.dialect import IDS_IN_JSON, dialect_of
from dashboard.mail.addresses import canonical_address
from dashboard.mail.parse import MessageMeta
from dashboard.models import Lead, LeadAddress
from dashboard.states import LeadSource, LeadState
from dashboard.sync.search_text import lead_search_text
from dashboard.sync.store.batch import ToStore
from dashboard.sync.store.ledger import mark_relink

STATS_SQL = """
UPDATE lead SET
  email_count = (SELECT count(*) FROM emaillead el WHERE el.lead_id = lead.id),
  first_contact_at = (SELECT min(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                      WHERE el.lead_id = lead.id),
  last_contact_at = (SELECT max(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                     WHERE el.lead_id = lead.id),
  last_direction = (SELECT e.direction FROM email e JOIN emaillead el ON el.email_id = e.id
                    WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1),
  last_contact_user_id = (SELECT e.user_id FROM email e JOIN emaillead el ON el.email_id = e.id
                          WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1)
WHERE lead.id IN ({ids})
"""
STATS = {name: text(STATS_SQL.format(ids=ids)) for name, ids in IDS_IN_JSON.items()}


def refresh_stats(session: Session, lead_ids: Iterable[int]) -> None:
    """Recompute the email summaries (count, first/last contact, direction) of some leads."""
    ids = sorted(set(lead_ids))
    if ids:
        session.execute(STATS[dialect_of(session)], {"ids": json.dumps(ids)})


SEARCH_FIELDS = select(Lead.id, Lead.name, Lead.company_name, Lead.search_text).where(
    Lead.id.in_(bindparam("ids", expanding=True))
)
ADDRESSES = (
    select(LeadAddress.lead_id, LeadAddress.address)
    .where(LeadAddress.lead_id.in_(bindparam("ids", expanding=True)))
    .order_by(LeadAddress.id)
)
SET_SEARCH_TEXT = (
    update(Lead).where(Lead.id == bindparam("lead_id")).values(search_text=bindparam("search_text"))
)


def refresh_search_text(session: Session, lead_ids: Iterable[int]) -> None:
    """Recompute the search text of some leads from what the database holds now: name,
    company and addresses (oldest first). Two reads and one write for any number of leads;
    leads whose text is already right are not written (each write updates two indexes)."""
    ids = sorted(set(lead_ids))
    if not ids:
        return
    session.flush()  # pending names and addresses count
    conn = session.connection()
    addresses: dict[int, list[str]] = {}
    for lead_id, address in conn.execute(ADDRESSES, {"ids": ids}):
        addresses.setdefault(lead_id, []).append(address)
    changed = []
    for lead_id, name, company, current in conn.execute(SEARCH_FIELDS, {"ids": ids}):
        wanted = lead_search_text(name, company, addresses.get(lead_id, []))
        if wanted != current:
            changed.append({"lead_id": lead_id, "search_text": wanted})
    if changed:
        conn.execute(SET_SEARCH_TEXT, changed)
        written = {row["lead_id"] for row in changed}
        for lead in session.identity_map.values():  # loaded leads read the new text
            if isinstance(lead, Lead) and lead.id in written:
                session.expire(lead, ["search_text"])


def lead_ids_for(session: Session, addresses: Iterable[str]) -> dict[str, int]:
    """Map canonical addresses to their lead's id (only those that have one)."""
    wanted = {canonical_address(a) for a in addresses} - {""}
    if not wanted:
        return {}
    rows = session.execute(
        select(LeadAddress.address, LeadAddress.lead_id).where(LeadAddress.address.in_(wanted))
    )
    return dict(rows.all())


def create_leads(
    session: Session, people: dict[str, str], *, owner_id: int, state: str
) -> dict[str, int]:
    """Create one lead per new canonical address (name from the message) and index it."""
    created: dict[str, int] = {}
    for address, name in people.items():
        lead = Lead(
            name=name or address.split("@")[0],
            owner_id=owner_id,
            source=LeadSource.SYNC,
            state=state,
        )
        session.add(lead)
        session.flush()
        session.add(LeadAddress(lead_id=lead.id, address=address))
        created[address] = lead.id
    if created:
        session.flush()
        mark_relink(session, created)
        refresh_search_text(session, created.values())
    return created


def display_names(meta: MessageMeta) -> dict[str, str]:
    """Names shown next to each address in the message."""
    groups = (meta.from_, meta.to, meta.cc, meta.bcc)
    return {canonical_address(a.email): a.name for g in groups for a in g if a.email}


def resolve_leads(
    session: Session,
    batch: list[ToStore],
    *,
    owner_id: int,
    state: str,
    promised: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], int]:
    """Lead ids for every address the batch links to, creating the new leads first.

    `promised`: leads another lane of this round decided to create. A message here may
    link to one before that lane has committed it: then this commit creates it (the other
    lane finds it when its turn comes), or the link would be lost.
    """
    wanted = {
        canonical_address(a)
        for item in batch
        for a in (*item.decision.lead_addresses, *item.decision.new_lead_addresses)
    }
    known = lead_ids_for(session, wanted)
    people: dict[str, str] = {}
    for item in batch:
        names = display_names(item.meta)
        linked = (a for a in item.decision.lead_addresses if canonical_address(a) in promised)
        for address in (*item.decision.new_lead_addresses, *linked):
            key = canonical_address(address)
            if key not in known:
                people.setdefault(key, names.get(key, ""))
    known.update(create_leads(session, people, owner_id=owner_id, state=state))
    return known, len(people)


def known_lead_addresses(session: Session) -> set[str]:
    """Canonical addresses of every lead that is not dismissed: the rules link mail to these."""
    return {
        canonical_address(a)
        for a in session.scalars(
            select(LeadAddress.address).join(Lead).where(Lead.state != LeadState.DISMISSED)
        )
    }
