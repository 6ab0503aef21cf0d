"""Failed smart emails as drafts: found for editing, replaced by the edited attempt, or
discarded. Only failed ones: an email sending or sent is never changed here. No Flask."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session

from dashboard.models import Email, EmailLead, OutgoingEmail
from dashboard.states import OutgoingState


def failed_draft(
    session: Session, user_id: int, outgoing_id: int | None, lead_id: int
) -> OutgoingEmail | None:
    """The user's failed email to this lead with this id; None for any other id."""
    outgoing = session.get(OutgoingEmail, outgoing_id) if outgoing_id else None
    if outgoing is None or (outgoing.user_id, outgoing.lead_id) != (user_id, lead_id):
        return None
    return outgoing if outgoing.state == OutgoingState.FAILED else None


def replaceable(session: Session, user_id: int, outgoing_id: int) -> bool:
    """May an edited copy be sent in place of this draft? Not once it is sending or sent
    again (a retry meanwhile): that would deliver it twice. One already gone is no obstacle."""
    state = session.scalar(
        select(OutgoingEmail.state).where(
            OutgoingEmail.id == outgoing_id, OutgoingEmail.user_id == user_id
        )
    )
    return state in (None, OutgoingState.FAILED)


def discard(session: Session, user_id: int, outgoing_id: int) -> bool:
    """Delete the user's failed email (its tracked links go with it); False if there was
    none: someone else's, unknown, or no longer failed."""
    result = session.execute(
        delete(OutgoingEmail).where(
            OutgoingEmail.id == outgoing_id,
            OutgoingEmail.user_id == user_id,
            OutgoingEmail.state == OutgoingState.FAILED,
        )
    )
    return result.rowcount == 1


def replied_email_id(session: Session, draft: OutgoingEmail) -> int | None:
    """The email of the draft's lead that the draft answered, found by its Message-ID, so the
    edited attempt is a reply in the same thread (the caller still asks if it may be read)."""
    if not draft.in_reply_to or draft.lead_id is None:
        return None
    return session.scalar(
        select(Email.id)
        .join(EmailLead, EmailLead.email_id == Email.id)
        .where(Email.message_id == draft.in_reply_to, EmailLead.lead_id == draft.lead_id)
        .order_by(Email.id)
        .limit(1)
    )
