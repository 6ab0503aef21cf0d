"""Mailboxes and what sync stores: emails, sightings, attachments, cursors, the skip ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import AutoString, Field, SQLModel

from dashboard.mail.mime import decoded_size
from dashboard.models.base import JSON_DOCUMENT, json_list, utcnow
from dashboard.states import MailboxStatus, Origin


class Mailbox(SQLModel, table=True):
    """A user's connected mailbox: server settings, encrypted app password, sync state."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int = Field(foreign_key="user.id", unique=True)
    provider: str
    address: str = Field(index=True)
    username: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    secret: bytes | None = None  # Fernet token; None once disconnected
    sent_folder: str | None = None
    sent_found_by: str | None = None  # "flag" or "name"
    folders: list[str] = json_list()
    available_folders: list[str] = json_list()
    capabilities: list[str] = json_list()
    status: str = MailboxStatus.CONNECTED
    last_error_code: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
    verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Sync scheduling: "Sincronizar agora" moves next_sync_at forward; failures back off.
    next_sync_at: datetime | None = None
    failures: int = 0
    rescan_since: datetime | None = None
    # Who typed the app password last (the owner, or an admin on their behalf; None: the
    # command line), and when: the owner's page says so.
    connected_by_user_id: int | None = Field(
        default=None, foreign_key="user.id", ondelete="SET NULL"
    )
    connected_at: datetime | None = None
    # Since when the sync process holds an IMAP IDLE on INBOX ("tempo real"); None: interval.
    idle_since: datetime | None = None
    # "password": `secret` is the app password. "xoauth2" (Google/Microsoft OAuth): `secret` is
    # the refresh token, and the short-lived access token (also encrypted) is kept with its
    # expiry so every round does not ask the provider for a new one.
    # No column default on the Python side (only the server's): rows inserted as older code
    # did, without the column, still get "password".
    auth: str = Field(
        default="password",
        sa_column=Column(AutoString, nullable=False, server_default="password"),
    )
    access_token: bytes | None = None
    access_expires_at: datetime | None = None

    @property
    def connected(self) -> bool:
        """True while the mailbox has a secret to sync with."""
        return self.secret is not None


class MailboxEvent(SQLModel, table=True):
    """The account's log for admins: verifications, failures with the server's raw answer."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id", ondelete="SET NULL")
    at: datetime = Field(default_factory=utcnow)
    kind: str
    code: str | None = None
    detail: str = ""  # redacted: never contains the secret


class Email(SQLModel, table=True):
    """One message, however many folders or mailboxes it was seen in (see Sighting)."""

    __table_args__ = (
        Index("ix_email_identity", "message_id", "sender", "fingerprint", unique=True),
        Index("ix_email_in_reply_to", "in_reply_to"),  # a late parent finds its replies
    )

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    message_id: str
    sender: str  # lowercased address of From; with message_id, the email's identity
    fingerprint: str = ""  # Date header and subject (mail/fingerprint.py); part of identity
    synthetic_id: bool = False
    thread_key: str = Field(index=True)
    gm_msgid: int | None = None
    gm_thrid: int | None = None
    subject: str = ""
    date: datetime = Field(index=True)
    from_name: str = ""
    to_addrs: list[str] = json_list()
    cc_addrs: list[str] = json_list()
    bcc_addrs: list[str] = json_list()
    in_reply_to: str | None = None
    references: list[str] = json_list()
    direction: str  # a Direction
    body_text: str = ""
    body_html: str = ""
    size: int = 0
    has_attachments: bool = False
    problems: list[str] = json_list()
    origin: str = Origin.SYNC  # or SMART: sent from LeadSync
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class EmailLead(SQLModel, table=True):
    """Which leads an email involves."""

    email_id: int = Field(foreign_key="email.id", primary_key=True, ondelete="CASCADE")
    lead_id: int = Field(foreign_key="lead.id", primary_key=True, index=True, ondelete="CASCADE")


class Sighting(SQLModel, table=True):
    """Where an email was seen: mailbox, folder, UIDVALIDITY and UID (for attachments)."""

    __table_args__ = (
        Index("ix_sighting_place", "mailbox_id", "folder", "uidvalidity", "uid", unique=True),
        Index("ix_sighting_email_mailbox", "email_id", "mailbox_id"),
    )

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    email_id: int = Field(foreign_key="email.id", ondelete="CASCADE")
    mailbox_id: int = Field(foreign_key="mailbox.id", ondelete="CASCADE")
    folder: str
    uidvalidity: int
    uid: int


class Attachment(SQLModel, table=True):
    """An attachment's description; its bytes stay on the server until someone asks."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    email_id: int = Field(foreign_key="email.id", index=True, ondelete="CASCADE")
    filename: str
    content_type: str
    size: int  # octets as sent (transfer-encoded), from BODYSTRUCTURE
    section: str  # IMAP part number, e.g. "2" or "1.2"
    encoding: str = ""
    content_id: str | None = None
    inline: bool = False

    @property
    def file_size(self) -> int:
        """The size of the file the user downloads (decoded), as far as it can be told."""
        return decoded_size(self.size, self.encoding)


class FolderCursor(SQLModel, table=True):
    """How far a folder has been synced: UIDVALIDITY, last UID, HIGHESTMODSEQ, progress."""

    __table_args__ = (Index("ix_foldercursor_box_folder", "mailbox_id", "folder", unique=True),)

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    mailbox_id: int = Field(foreign_key="mailbox.id", ondelete="CASCADE")
    folder: str
    uidvalidity: int = 0
    last_uid: int = 0
    highestmodseq: int | None = None
    total: int = 0  # messages to import in the current pass (progress bar)
    done: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class SkippedMessage(SQLModel, table=True):
    """The skip ledger: a message not stored, and why; "no lead" rows keep the outsiders."""

    __table_args__ = (
        Index("ix_skipped_place", "mailbox_id", "folder", "uidvalidity", "uid", unique=True),
        # What every round asks first: "which skips of this folder does a new lead claim?".
        # Led by `relink`, so SQLite prefers it to ix_skipped_place, which would walk every
        # skip of the folder (a scan that grows with the mailbox, in a no-change round too).
        Index("ix_skipped_relink", "relink", "mailbox_id", "folder", "uidvalidity"),
    )

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True, ondelete="CASCADE")
    folder: str
    uidvalidity: int
    uid: int
    message_id: str = ""
    date: datetime | None = None
    subject: str = ""
    sender: str = ""
    reason: str  # internal | never_log | no_lead | automated | parse_error | too_large
    detail: str = ""
    addresses: list[str] = json_list()
    relink: bool = False  # a lead now matches: fetch it next round (ix_skipped_relink)
    created_at: datetime = Field(default_factory=utcnow)


class SkippedAddress(SQLModel, table=True):
    """Index of the outsiders of "no lead" skips, so new leads find their past mail fast."""

    skipped_id: int = Field(foreign_key="skippedmessage.id", primary_key=True, ondelete="CASCADE")
    address: str = Field(primary_key=True, index=True)


class SyncRun(SQLModel, table=True):
    """One sync round of one mailbox: the history shown on the mailbox page."""

    id: int = Field(default=None, primary_key=True)  # see models/base.py: set on flush
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True, ondelete="CASCADE")
    started_at: datetime = Field(default_factory=utcnow)
    seconds: float | None = None
    fetched: int = 0
    stored: int = 0
    seen_again: int = 0  # fetched copies of emails already stored (other folder, mailbox)
    skipped: dict = Field(default_factory=dict, sa_column=Column(JSON_DOCUMENT, nullable=False))
    leads_created: int = 0
    error_code: str | None = None
    error_detail: str = ""


class SyncLease(SQLModel, table=True):
    """Who is syncing a mailbox right now: at most one holder until the lease expires."""

    mailbox_id: int = Field(foreign_key="mailbox.id", primary_key=True, ondelete="CASCADE")
    holder: str
    expires_at: datetime
