"""Smart emails: what reps send from LeadSync, templates, tracking and notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from dashboard.models.base import json_list, utcnow
from dashboard.states import OutgoingState


class OutgoingEmail(SQLModel, table=True):
    """A smart email from compose to sent (or failed, kept with its reason for a retry)."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    lead_id: int | None = Field(
        default=None, foreign_key="lead.id", index=True, ondelete="SET NULL"
    )
    message_id: str = Field(unique=True)
    to_addrs: list[str] = json_list()
    cc_addrs: list[str] = json_list()
    bcc_addrs: list[str] = json_list()
    subject: str = ""
    body: str = ""  # what the rep wrote (simple formatting), signature included
    in_reply_to: str | None = None
    references: list[str] = json_list()
    tracking: bool = False
    state: str = OutgoingState.SENDING
    error_code: str | None = None
    error_detail: str = ""
    attempts: int = 0
    # Indexed: deleting an email (retention) looks up its smart email through this column.
    email_id: int | None = Field(
        default=None, foreign_key="email.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class TrackedLink(SQLModel, table=True):
    """A link of a smart email, rewritten to pass through the click counter."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    outgoing_id: int = Field(foreign_key="outgoingemail.id", index=True, ondelete="CASCADE")
    url: str


class TrackingEvent(SQLModel, table=True):
    """One open (pixel loaded) or click of a smart email by one recipient."""

    __table_args__ = (Index("ix_trackingevent_outgoing_kind", "outgoing_id", "kind"),)

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    outgoing_id: int = Field(foreign_key="outgoingemail.id", ondelete="CASCADE")
    recipient: str
    kind: str  # open | click
    link_id: int | None = Field(default=None, foreign_key="trackedlink.id", ondelete="SET NULL")
    at: datetime = Field(default_factory=utcnow)


class EmailTemplate(SQLModel, table=True):
    """A template with placeholders ({{ primeiro_nome }}, {{ empresa }}, ...): the company's
    (no user, admins manage it) or one rep's own (private to that rep)."""

    # A name is unique among the company's templates and among each rep's own; SQLite counts
    # (and PostgreSQL) NULLs as distinct, hence the partial index for the company's.
    __table_args__ = (
        Index("ux_emailtemplate_user_name", "user_id", "name", unique=True),
        Index(
            "ux_emailtemplate_company_name",
            "name",
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
    )

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE")
    name: str
    subject: str = ""
    body: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """Tells a rep that a lead opened, clicked or replied."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    kind: str  # open | click | reply
    lead_id: int | None = Field(default=None, foreign_key="lead.id", ondelete="CASCADE")
    # Indexed: deleting an email or a smart email (retention) finds its notifications by them.
    outgoing_id: int | None = Field(
        default=None, foreign_key="outgoingemail.id", index=True, ondelete="CASCADE"
    )
    email_id: int | None = Field(
        default=None, foreign_key="email.id", index=True, ondelete="CASCADE"
    )
    detail: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
