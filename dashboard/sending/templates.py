"""Email templates and who may use or change them: the company's (no owner; every user picks
them, admins change them) and each user's own (private: only the owner sees or changes them).
No Flask."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlmodel import Session

from dashboard.models import EmailTemplate, User, utcnow


def usable_templates(
    session: Session, user_id: int
) -> tuple[list[EmailTemplate], list[EmailTemplate]]:
    """The company's templates and the user's own, each by name."""
    query = (
        select(EmailTemplate)
        .where(or_(EmailTemplate.user_id.is_(None), EmailTemplate.user_id == user_id))
        .order_by(EmailTemplate.name, EmailTemplate.id)
    )
    found = list(session.scalars(query))
    return [t for t in found if t.user_id is None], [t for t in found if t.user_id is not None]


def usable_template(
    session: Session, user_id: int, template_id: int | None
) -> EmailTemplate | None:
    """A template the user may pick (the company's or their own); None for any other id."""
    template = session.get(EmailTemplate, template_id) if template_id else None
    if template is None or template.user_id not in (None, user_id):
        return None
    return template


def may_change(user: User, template: EmailTemplate) -> bool:
    """Admins change the company's templates; everyone changes their own."""
    return template.user_id == user.id if template.user_id is not None else user.is_admin


def name_taken(session: Session, name: str, owner_id: int | None, template_id: int | None) -> bool:
    """Another template of the same owner (or another company one) has this name."""
    owner = (
        EmailTemplate.user_id.is_(None) if owner_id is None else EmailTemplate.user_id == owner_id
    )
    clash = session.scalar(select(EmailTemplate.id).where(EmailTemplate.name == name, owner))
    return clash is not None and clash != template_id


def save_template(
    session: Session,
    template: EmailTemplate | None,
    *,
    owner_id: int | None,
    name: str,
    subject: str,
    body: str,
) -> EmailTemplate:
    """Store a new template of this owner (None: the company's), or change an existing one's
    text; an existing template keeps its owner."""
    template = template or EmailTemplate(name=name, user_id=owner_id)
    template.name, template.subject, template.body = name, subject, body
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template
