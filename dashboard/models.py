"""Database tables (SQLModel). Times are stored in UTC; views convert to the viewer's zone."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

ROLES = ("admin", "rep")


def utcnow() -> datetime:
    """Return the current time in UTC (aware); every table stores UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """Return a fresh random token; changing it logs out every copy of a user's cookies."""
    return secrets.token_urlsafe(24)


class Company(SQLModel, table=True):
    """The one company this instance serves, and its runtime settings."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who logs in: an admin or a sales rep."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    name: str
    password_hash: str
    role: str = "rep"
    active: bool = True
    session_token: str = Field(default_factory=new_session_token)
    language: str | None = None
    timezone: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == "admin"

    # flask-login's user protocol. The id it stores in cookies carries the session token,
    # so rotating the token invalidates every session and remember-me cookie at once.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def is_active(self) -> bool:
        """Deactivated users cannot log in and lose their sessions."""
        return self.active

    def get_id(self) -> str:
        """Return the cookie identity: user id and current session token."""
        return f"{self.id}:{self.session_token}"


class LoginFailure(SQLModel, table=True):
    """One failed login, counted per account and per client IP for throttling."""

    __table_args__ = (Index("ix_loginfailure_scope_key_at", "scope", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str  # "account" or "ip"
    key: str
    at: datetime = Field(default_factory=utcnow)
