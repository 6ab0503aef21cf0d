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
# PostgreSQL's stand-ins for them: GIN indexes on expressions (migrations 0004, 0006, 0009).
PG_SEARCH_INDEXES = frozenset(
    {"ix_email_fts_subject", "ix_email_fts_text", "ix_lead_search_trgm", "ix_lead_search_words"}
)


def schema_name_is_ours(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic compares only model tables: the full-text indexes are raw SQL (FTS5 tables and
    their shadows on SQLite, GIN expression indexes on PostgreSQL)."""
    if type_ == "index":
        return name not in PG_SEARCH_INDEXES
    return not (type_ == "table" and name and name.startswith(FTS_PREFIXES))


__all__ = [
    "AUTO_CREATE", "ROLES", "VISIBILITY", "Attachment", "AuditEvent", "Company", "Email",
    "DismissedAddress", "PrivateThread", "EmailTemplate", "Notification", "OutgoingEmail",
    "TrackedLink", "TrackingEvent",
    "EmailLead", "FolderCursor", "Lead", "LeadAddress", "LoginFailure", "Mailbox", "NeverLogNote",
    "MailboxEvent", "Sighting", "SkippedAddress", "SkippedMessage", "SyncLease", "SyncRun",
    "OAuthApp", "User", "UserAddress", "new_session_token", "utcnow",
]  # fmt: skip
