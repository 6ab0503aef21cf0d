"""A lead's data erased at the person's request (LGPD art. 18, VI).

What goes, in the caller's one write transaction: the lead and its addresses; the emails that
involve no other lead, with their attachment rows, sightings, links and full-text rows (the
FTS5 triggers); the smart emails sent to the lead with their links, tracking events and
notifications; tracking events of this person on other smart emails; the skip-ledger rows
that carry one of the addresses; dismissed suggestions of them. Emails another lead also has
stay, unlinked from this one. Each address goes on the never-log list as a one-way
fingerprint (mail/addresses.fingerprint) with a note, so the next sync skips the person's
mail without the database holding the address. The audit log says that lead #id was erased
with how many emails, by whom and when: nothing of the erased data.

Deleted bytes are zeroed as they go (db/scrub.secure_deletes); the caller then runs
db/scrub.scrub once the transaction committed (FTS5 segments, WAL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from dashboard.accounts import audit
from dashboard.accounts.service import AccountError, get_company
from dashboard.db.scrub import secure_deletes
from dashboard.leads.service import addresses_of, lead_with_address
from dashboard.mail.addresses import canonical_address, fingerprint
from dashboard.models import (
    Attachment,
    DismissedAddress,
    Email,
    EmailLead,
    Lead,
    NeverLogNote,
    Notification,
    OutgoingEmail,
    PrivateThread,
    SkippedAddress,
    SkippedMessage,
    TrackingEvent,
    User,
)

CHUNK = 500  # bounded IN lists


class ErasureError(AccountError):
    """Nothing to erase: no lead has the address (unknown, or erased already)."""


@dataclass(frozen=True)
class ErasurePlan:
    """What erasing a lead takes away (the confirmation page's counts, the command's report)."""

    lead_id: int
    addresses: tuple[str, ...]
    emails: int  # involve no other lead: deleted
    shared_emails: int  # another lead has them too: kept, unlinked from this one
    attachments: int
    smart_emails: int
    tracking_events: int
    notifications: int
    skipped: int  # skip-ledger rows naming one of the addresses


def only_this_lead(lead_id: int) -> ColumnElement[bool]:
    """SQL: the email (EmailLead row) is linked to this lead and to no other."""
    other = aliased(EmailLead)
    return ~exists().where(other.email_id == EmailLead.email_id, other.lead_id != lead_id)


def own_email_ids(session: Session, lead_id: int) -> list[int]:
    """The emails that involve this lead and no other one."""
    query = select(EmailLead.email_id).where(EmailLead.lead_id == lead_id, only_this_lead(lead_id))
    return list(session.scalars(query))


def smart_email_ids(session: Session, lead_id: int, email_ids: list[int]) -> list[int]:
    """Smart emails sent to the lead, or whose synced copy is one of these emails."""
    found: set[int] = set(
        session.scalars(select(OutgoingEmail.id).where(OutgoingEmail.lead_id == lead_id))
    )
    for start in range(0, len(email_ids), CHUNK):
        chunk = email_ids[start : start + CHUNK]
        found.update(
            session.scalars(select(OutgoingEmail.id).where(OutgoingEmail.email_id.in_(chunk)))
        )
    return sorted(found)


def skipped_ids(session: Session, addresses: list[str]) -> list[int]:
    """Skip-ledger rows that name one of the addresses (as an outsider or as the sender)."""
    indexed = select(SkippedAddress.skipped_id).where(SkippedAddress.address.in_(addresses))
    query = select(SkippedMessage.id).where(
        or_(SkippedMessage.id.in_(indexed), func.lower(SkippedMessage.sender).in_(addresses))
    )
    return list(session.scalars(query))


def count_in(session: Session, column: ColumnElement, ids: list[int]) -> int:
    """How many rows have `column` among the ids (chunked)."""
    total = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        total += session.scalar(select(func.count()).where(column.in_(chunk))) or 0
    return total


def erasure_plan(session: Session, lead: Lead) -> ErasurePlan:
    """Count what erasing this lead would take away."""
    addresses = addresses_of(session, lead.id)
    emails = own_email_ids(session, lead.id)
    linked = session.scalar(select(func.count()).where(EmailLead.lead_id == lead.id)) or 0
    smart = smart_email_ids(session, lead.id, emails)
    events = count_in(session, TrackingEvent.outgoing_id, smart) + (
        session.scalar(
            select(func.count()).where(
                TrackingEvent.recipient.in_(addresses), TrackingEvent.outgoing_id.not_in(smart)
            )
        )
        or 0
    )
    notifications = set(
        session.scalars(
            select(Notification.id).where(
                or_(Notification.lead_id == lead.id, Notification.outgoing_id.in_(smart))
            )
        )
    )
    for start in range(0, len(emails), CHUNK):
        chunk = emails[start : start + CHUNK]
        notifications.update(
            session.scalars(select(Notification.id).where(Notification.email_id.in_(chunk)))
        )
    return ErasurePlan(
        lead_id=lead.id,
        addresses=tuple(addresses),
        emails=len(emails),
        shared_emails=linked - len(emails),
        attachments=count_in(session, Attachment.email_id, emails),
        smart_emails=len(smart),
        tracking_events=events,
        notifications=len(notifications),
        skipped=len(skipped_ids(session, addresses)),
    )


def delete_in(session: Session, model: type, ids: list[int]) -> None:
    """Delete the model's rows with these ids (chunked)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            delete(model).where(model.id.in_(chunk)),
            execution_options={"synchronize_session": False},
        )


def thread_keys_of(session: Session, email_ids: list[int]) -> list[str]:
    """The thread keys of these emails (a private mark must not outlive its thread)."""
    keys: set[str] = set()
    for start in range(0, len(email_ids), CHUNK):
        chunk = email_ids[start : start + CHUNK]
        keys.update(session.scalars(select(Email.thread_key).where(Email.id.in_(chunk))))
    return sorted(keys)


def erase_lead(session: Session, lead: Lead, *, actor: User | None, now: datetime) -> ErasurePlan:
    """Erase the lead's data in the session's transaction (the caller commits, then scrubs)."""
    plan = erasure_plan(session, lead)
    addresses = list(plan.addresses)
    emails = own_email_ids(session, lead.id)
    smart = smart_email_ids(session, lead.id, emails)
    thread_keys = thread_keys_of(session, emails)
    with secure_deletes(session):
        # Smart emails first: their links, events and notifications go by cascade.
        delete_in(session, OutgoingEmail, smart)
        session.execute(delete(TrackingEvent).where(TrackingEvent.recipient.in_(addresses)))
        delete_in(session, SkippedMessage, skipped_ids(session, addresses))
        session.execute(delete(DismissedAddress).where(DismissedAddress.address.in_(addresses)))
        delete_in(session, Email, emails)  # attachments, sightings, links, FTS rows follow
        still_there = select(Email.thread_key).where(Email.thread_key.in_(thread_keys))
        session.execute(
            delete(PrivateThread).where(
                PrivateThread.thread_key.in_(thread_keys),
                PrivateThread.thread_key.not_in(still_there),
            )
        )
        session.execute(
            delete(Lead).where(Lead.id == lead.id),  # addresses, links, notifications follow
            execution_options={"synchronize_session": False},
        )
    session.expunge(lead)  # gone from the database: the session must not flush it again
    never_log_again(session, addresses, lead_id=lead.id, now=now)
    audit.record(session, actor, "lead.erase", {"lead": lead.id, "emails": plan.emails})
    return plan


def never_log_again(session: Session, addresses: list[str], *, lead_id: int, now: datetime) -> None:
    """Put the addresses' fingerprints on the never-log list, each with a note saying why."""
    company = get_company(session)
    if company is None:
        return
    entries = list(company.never_log)
    for address in addresses:
        entry = fingerprint(address)
        if entry not in entries:
            entries.append(entry)
        session.merge(NeverLogNote(entry=entry, reason="erasure", lead_id=lead_id, created_at=now))
    company.never_log = entries
    session.add(company)


def lead_to_erase(session: Session, address: str) -> Lead:
    """The lead that has this address, or ErasureError saying why there is none."""
    key = canonical_address(address)
    if not key:
        raise ErasureError(_l("“%(address)s” is not an email address.", address=address))
    lead = lead_with_address(session, key)
    if lead is not None:
        return lead
    company = get_company(session)
    if company is not None and fingerprint(key) in company.never_log:
        raise ErasureError(_l("The data of %(address)s was erased already.", address=key))
    raise ErasureError(_l("No lead has the address %(address)s.", address=key))
