"""Leads: create, edit, addresses, merge, delete, suggestions, and their email summaries.

Plain functions over a session. A lead's addresses are validated, then stored and looked
up in canonical form (mail/addresses.canonical_address: lowercased, "+tag" dropped), the
form the sync finds people by. Adding an address (or a lead) flags that address's past
"no lead" skips for retroactive linking on the next sync round. Every change of a name,
company or address ends with the store's `refresh_search_text`, the one writer of the text
the lead list searches.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, exists, func, literal, select, update
from sqlmodel import Session

from dashboard.accounts.service import AccountError, normalize_email
from dashboard.db.dialect import insert_ignoring
from dashboard.mail.addresses import canonical_address
from dashboard.models import DismissedAddress, Email, EmailLead, Lead, LeadAddress
from dashboard.states import LeadSource, LeadState
from dashboard.sync.store.leads import refresh_search_text, refresh_stats
from dashboard.sync.store.ledger import mark_relink

# Built once: the lead page asks on every view.
ADDRESSES_OF = (
    select(LeadAddress.address)
    .where(LeadAddress.lead_id == bindparam("lead_id"))
    .order_by(LeadAddress.id)
)


def addresses_of(session: Session, lead_id: int) -> list[str]:
    """A lead's addresses, oldest first."""
    return list(session.connection().execute(ADDRESSES_OF, {"lead_id": lead_id}).scalars())


def parse_addresses(raw: str | Iterable[str]) -> list[str]:
    """Validate addresses given as text (one per line) or a list; canonical, without repeats."""
    items = raw.replace(",", "\n").split() if isinstance(raw, str) else list(raw)
    result: list[str] = []
    for item in items:
        if item.strip() and (address := canonical_address(normalize_email(item))) not in result:
            result.append(address)
    return result


def lead_with_address(session: Session, address: str) -> Lead | None:
    """The lead that has this address (with or without a "+tag"), if any."""
    key = canonical_address(address)
    lead_id = session.scalar(select(LeadAddress.lead_id).where(LeadAddress.address == key))
    return session.get(Lead, lead_id) if lead_id else None


def add_addresses(session: Session, lead: Lead, addresses: Iterable[str]) -> list[str]:
    """Give the lead more (canonical) addresses; refuse one that belongs to another lead."""
    added = []
    for address in addresses:
        owner = session.scalar(select(LeadAddress.lead_id).where(LeadAddress.address == address))
        if owner is not None and owner != lead.id:
            raise AccountError(
                _l("%(address)s already belongs to another lead.", address=address), "addresses"
            )
        if owner is None:
            session.add(LeadAddress(lead_id=lead.id, address=address))
            added.append(address)
    session.flush()
    mark_relink(session, added)  # their past "no lead" emails get linked next round
    session.execute(delete(DismissedAddress).where(DismissedAddress.address.in_(added)))
    refresh_search_text(session, [lead.id])
    return added


def create_lead(
    session: Session,
    *,
    name: str,
    addresses: str | list[str],
    company: str = "",
    phone: str = "",
    owner_id: int | None = None,
) -> Lead:
    """Create a lead by hand with at least one address."""
    wanted = parse_addresses(addresses)
    if not wanted:
        raise AccountError(_l("Enter at least one email address."), "addresses")
    lead = Lead(
        name=name.strip() or wanted[0].split("@")[0],
        company_name=company.strip(),
        phone=phone.strip(),
        owner_id=owner_id,
        source=LeadSource.MANUAL,
    )
    session.add(lead)
    session.flush()
    add_addresses(session, lead, wanted)  # refreshes the search text
    return lead


def update_lead(
    session: Session,
    lead: Lead,
    *,
    name: str,
    company: str,
    phone: str,
    owner_id: int | None,
    addresses: str | list[str],
) -> None:
    """Edit a lead; removed addresses are freed, new ones link their past emails."""
    wanted = parse_addresses(addresses)
    if not wanted:
        raise AccountError(_l("Enter at least one email address."), "addresses")
    lead.name, lead.company_name, lead.phone = name.strip(), company.strip(), phone.strip()
    lead.owner_id = owner_id
    session.execute(
        delete(LeadAddress).where(
            LeadAddress.lead_id == lead.id, LeadAddress.address.not_in(wanted)
        )
    )
    session.add(lead)
    add_addresses(session, lead, wanted)  # refreshes the search text (names, addresses)


def merge_leads(session: Session, keep: Lead, other: Lead) -> None:
    """Move the other lead's addresses and emails to the kept one, then delete it."""
    if keep.id == other.id:
        raise AccountError(_l("Choose two different leads."), "other")
    session.execute(
        update(LeadAddress).where(LeadAddress.lead_id == other.id).values(lead_id=keep.id)
    )
    session.execute(
        insert_ignoring(session, EmailLead).from_select(
            ["email_id", "lead_id"],
            select(EmailLead.email_id, literal(keep.id)).where(EmailLead.lead_id == other.id),
        )
    )
    keep.company_name = keep.company_name or other.company_name
    keep.phone = keep.phone or other.phone
    keep.owner_id = keep.owner_id or other.owner_id
    session.delete(other)
    session.flush()
    refresh_search_text(session, [keep.id])
    refresh_stats(session, [keep.id])


def delete_lead(session: Session, lead: Lead) -> int:
    """Delete a lead; its emails stay only when another lead still links them."""
    deleted = delete_leads(session, [lead.id])
    session.expunge(lead)  # gone from the database: the session must not flush it again
    return deleted


def delete_leads(session: Session, lead_ids: Iterable[int]) -> int:
    """Delete leads (their addresses and links go with them, by cascade); an email stays only
    when a lead that remains still links it. Returns how many emails were deleted."""
    ids, deleted = list(lead_ids), 0
    for start in range(0, len(ids), CHUNK):  # bounded IN lists, whatever the selection's size
        deleted += delete_lead_chunk(session, ids[start : start + CHUNK])
    return deleted


CHUNK = 500


def delete_lead_chunk(session: Session, lead_ids: list[int]) -> int:
    """`delete_leads` for a few hundred ids: the emails only they link, then the leads."""
    theirs = select(EmailLead.email_id).where(EmailLead.lead_id.in_(lead_ids))
    kept = exists().where(EmailLead.email_id == Email.id, EmailLead.lead_id.not_in(lead_ids))
    doomed = session.execute(
        delete(Email).where(Email.id.in_(theirs), ~kept),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        delete(Lead).where(Lead.id.in_(lead_ids)), execution_options={"synchronize_session": False}
    )
    return doomed.rowcount or 0


def suggestion_count(session: Session) -> int:
    """How many suggested leads wait for review."""
    return (
        session.scalar(
            select(func.count()).select_from(Lead).where(Lead.state == LeadState.SUGGESTED)
        )
        or 0
    )
