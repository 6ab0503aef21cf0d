"""The company, its users, login throttling, aliases and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from dashboard.models.base import JSON_DOCUMENT, json_list, new_session_token, utcnow
from dashboard.states import AutoCreate, Role, Visibility


class Company(SQLModel, table=True):
    """The one company this instance serves, and its runtime settings."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    name: str
    domains: list[str] = json_list()
    created_at: datetime = Field(default_factory=utcnow)
    # "Sincronização de e-mail": read by the sync job at the start of every round.
    skip_internal: bool = True
    visibility: str = Visibility.ALL  # what teammates see
    never_log: list[str] = json_list()
    auto_create: str = AutoCreate.SENT  # when the sync creates leads
    import_days: int = 30
    interval_minutes: int = 5
    retention_months: int | None = None  # emails older than this are purged daily; None: never
    stale_days: int = 3  # "aguardando resposta" after this many days without an answer
    tracking: bool = True  # smart emails: open pixel and click links (needs LEADSYNC_PUBLIC_URL)
    # Mailboxes may name servers on this machine or the local network (mail/targets.py).
    allow_local_servers: bool = False
    # IMAP IDLE connections this instance keeps open at most (sync/idle.py); beyond it the
    # mailboxes take turns and the others wait for the interval round.
    idle_connections: int = 50


class OAuthApp(SQLModel, table=True):
    """The app an admin registered with an OAuth provider (Google Cloud, Microsoft Entra):
    its client id, and its client secret encrypted like the mailbox secrets."""

    provider: str = Field(primary_key=True)  # a key of mail/oauth.py's OAUTH_PROVIDERS
    client_id: str
    secret: bytes
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who logs in: an admin or a sales rep."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    email: str = Field(unique=True, index=True)
    name: str
    password_hash: str
    role: str = Role.REP
    active: bool = True
    session_token: str = Field(default_factory=new_session_token)
    language: str | None = None
    timezone: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    signature: str = ""  # appended to smart emails

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == Role.ADMIN

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

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    scope: str  # "account" or "ip"
    key: str
    at: datetime = Field(default_factory=utcnow)


class UserAddress(SQLModel, table=True):
    """Another address a user sends from (alias, personal Gmail used for work)."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    address: str = Field(unique=True)


class AuditEvent(SQLModel, table=True):
    """Who changed what and when (never secrets)."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str  # name or "cli" — kept even if the user changes later
    action: str
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON_DOCUMENT, nullable=False))


class NeverLogNote(SQLModel, table=True):
    """Why an entry is on the company's never-log list, when the entry cannot say it itself:
    an erased person's fingerprint (leads/erasure.py) notes the erasure and the lead's number."""

    entry: str = Field(primary_key=True)  # as on Company.never_log
    reason: str  # "erasure"
    lead_id: int | None = None  # the erased lead's number (no FK: the lead is gone)
    created_at: datetime = Field(default_factory=utcnow)
