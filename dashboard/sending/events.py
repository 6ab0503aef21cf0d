"""Tracking events of smart emails: opens and clicks, and the sender's first-time notices.

Invariants: a click may only redirect to a link recorded for that email (`tracked_link`),
so a forged token cannot make LeadSync an open redirect; the sender's own session never
counts; the first open and the first click of an email each notify its sender once. No Flask.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from dashboard.models import Notification, OutgoingEmail, TrackedLink, TrackingEvent
from dashboard.sending.tracking import TokenPayload


def tracked_link(session: Session, payload: TokenPayload | None) -> TrackedLink | None:
    """The link recorded for a click token: the only URL a click may redirect to."""
    if payload is None or payload.kind != "click" or payload.link_id is None:
        return None
    link = session.get(TrackedLink, payload.link_id)
    return link if link is not None and link.outgoing_id == payload.outgoing_id else None


def record_event(
    session: Session, token_payload: TokenPayload | None, kind: str, *, own_session: bool
) -> TrackingEvent | None:
    """Count an open or click (not from the sender's own session); notify on the first one."""
    payload = token_payload
    if own_session or payload is None or payload.kind != kind:
        return None
    outgoing = session.get(OutgoingEmail, payload.outgoing_id)
    link = tracked_link(session, payload) if kind == "click" else None
    if outgoing is None or (kind == "click" and link is None):
        return None
    seen = select(TrackingEvent.id).where(
        TrackingEvent.outgoing_id == outgoing.id, TrackingEvent.kind == kind
    )
    first = session.scalar(seen.limit(1)) is None
    event = TrackingEvent(
        outgoing_id=outgoing.id, recipient=payload.recipient, kind=kind, link_id=payload.link_id
    )
    session.add(event)
    if first:
        session.add(notification(outgoing, kind, link.url if link else payload.recipient))
    session.flush()
    return event


def notification(outgoing: OutgoingEmail, kind: str, detail: str) -> Notification:
    """The sender's notification of a first open (detail: recipient) or click (detail: URL)."""
    return Notification(
        user_id=outgoing.user_id, kind=kind, lead_id=outgoing.lead_id,
        outgoing_id=outgoing.id, email_id=outgoing.email_id, detail=detail,
    )  # fmt: skip
