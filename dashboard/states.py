"""The named states and choices of the domain, one enum each.

Columns keep plain strings (the values below, so existing rows and migrations stay as they
are); code compares and assigns these members, which are `str` too, so a typo is a
NameError instead of a branch that never runs.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do: admins run the company's settings and users."""

    ADMIN = "admin"
    REP = "rep"


class Visibility(StrEnum):
    """How much of a teammate's email a rep may read (company setting)."""

    ALL = "all"
    SUBJECT = "subject"
    METADATA = "metadata"


class AutoCreate(StrEnum):
    """When the sync creates a lead for an outside address (company setting)."""

    NEVER = "never"
    SUGGEST = "suggest"
    SENT = "sent"
    ALL = "all"


class LeadState(StrEnum):
    """A lead's place: in the list, waiting in the review queue, or dismissed from it."""

    ACTIVE = "active"
    SUGGESTED = "suggested"
    DISMISSED = "dismissed"


class LeadSource(StrEnum):
    """Who created a lead: the sync, or a person (form, CLI)."""

    SYNC = "sync"
    MANUAL = "manual"


class Direction(StrEnum):
    """Whether the team received an email or sent it."""

    IN = "in"
    OUT = "out"


class Origin(StrEnum):
    """How an email reached the database: synced, or sent from LeadSync."""

    SYNC = "sync"
    SMART = "smart"


class MailboxStatus(StrEnum):
    """A connected mailbox's sync state, as the status pages show it."""

    CONNECTED = "connected"
    SYNCING = "syncing"
    ERROR = "error"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class SkipReason(StrEnum):
    """Why the sync recorded a message in the skip ledger instead of storing it."""

    INTERNAL = "internal"
    NEVER_LOG = "never_log"
    NO_LEAD = "no_lead"
    AUTOMATED = "automated"
    PARSE_ERROR = "parse_error"
    TOO_LARGE = "too_large"


class OutgoingState(StrEnum):
    """A smart email from compose to sent (or failed, kept for a retry)."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
