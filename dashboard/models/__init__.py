"""Database tables (SQLModel), split by area; import them from here."""

from dashboard.models.accounts import (
    AuditEvent,
    Company,
    LoginFailure,
    NeverLogNote,
    OAuthApp,
    User,
    UserAddress,
)
from dashboard.models.base import AUTO_CREATE, ROLES, VISIBILITY, new_session_token, utcnow
from dashboard.models.leads import DismissedAddress, Lead, LeadAddress, PrivateThread
from dashboard.models.mail import (
    Attachment,
    Email,
    EmailLead,
    FolderCursor,
    Mailbox,
    MailboxEvent,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    SyncLease,
    SyncRun,
)
from dashboard.models.sending import (
    EmailTemplate,
    Notification,
    OutgoingEmail,
    TrackedLink,
    TrackingEvent,
)

FTS_TABLE = "email_fts"
FTS_PREFIXES = (FTS_TABLE, "lead_trgm", "lead_words")  # the FTS5 tables (and their shadows)


def schema_name_is_ours(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic compares only model tables: the FTS5 index and its shadow tables are raw SQL."""
    return not (type_ == "table" and name and name.startswith(FTS_PREFIXES))


__all__ = [
    "AUTO_CREATE", "ROLES", "VISIBILITY", "Attachment", "AuditEvent", "Company", "Email",
    "DismissedAddress", "PrivateThread", "EmailTemplate", "Notification", "OutgoingEmail",
    "TrackedLink", "TrackingEvent",
    "EmailLead", "FolderCursor", "Lead", "LeadAddress", "LoginFailure", "Mailbox", "NeverLogNote",
    "MailboxEvent", "Sighting", "SkippedAddress", "SkippedMessage", "SyncLease", "SyncRun",
    "OAuthApp", "User", "UserAddress", "new_session_token", "utcnow",
]  # fmt: skip
