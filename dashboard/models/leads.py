"""Leads, their addresses, private threads and dismissed suggestions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from dashboard.models.base import utcnow
from dashboard.states import LeadSource, LeadState


class Lead(SQLModel, table=True):
    """A person the team sells to, known by one or more email addresses.

    The last_* / first_* / email_count columns summarise the lead's emails so the list
    stays fast at 100,000 leads; sync/store/leads.refresh_stats keeps them current.
    """

    __table_args__ = (
        Index("ix_lead_last_contact", "state", "last_contact_at"),
        Index("ix_lead_name", "state", "name"),
        Index("ix_lead_created", "state", "created_at"),
        Index("ix_lead_owner_last_contact", "owner_id", "last_contact_at"),
    )

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    name: str = ""
    company_name: str = ""
    phone: str = ""
    owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    source: str = LeadSource.MANUAL
    state: str = LeadState.ACTIVE  # SUGGESTED ones wait in the review queue
    created_at: datetime = Field(default_factory=utcnow)
    email_count: int = 0
    first_contact_at: datetime | None = None
    last_contact_at: datetime | None = None
    last_direction: str | None = None  # the Direction of the newest email
    last_contact_user_id: int | None = None  # the rep of the newest email (no FK: a summary)
    search_text: str = ""  # name, company and addresses, lowercased and accent-folded


class LeadAddress(SQLModel, table=True):
    """One address of a lead, in canonical form (mail/addresses.py: lowercased, "+tag"
    dropped); an address belongs to one lead at most."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    lead_id: int = Field(foreign_key="lead.id", index=True, ondelete="CASCADE")
    address: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class PrivateThread(SQLModel, table=True):
    """A thread its rep marked private: teammates see only date, direction and rep."""

    thread_key: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class DismissedAddress(SQLModel, table=True):
    """An address dismissed from the review queue: never suggested again."""

    address: str = Field(primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
