"""The audit log: who changed what and when. Values of secrets are never recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from dashboard.accounts.audit_sentences import AuditSentence, describe
from dashboard.models import AuditEvent, User


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields whose value changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }


def record(
    session: Session, actor: User | None, action: str, changes: Mapping[str, Any] | None = None
) -> AuditEvent:
    """Add an audit event; actor None means the command line."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor=f"{actor.name} <{actor.email}>" if actor else "cli",
        action=action,
        changes=dict(changes or {}),
    )
    session.add(event)
    return event


def recent(session: Session, limit: int = 50) -> list[AuditEvent]:
    """The newest audit events first."""
    return list(session.exec(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))


def recent_sentences(session: Session, limit: int = 50) -> list[tuple[AuditEvent, AuditSentence]]:
    """The newest audit events first, each with its sentence (users named as they are now)."""
    names = {email.lower(): name for email, name in session.exec(select(User.email, User.name))}
    return [
        (event, describe(event.action, event.actor, event.changes, names))
        for event in recent(session, limit)
    ]
