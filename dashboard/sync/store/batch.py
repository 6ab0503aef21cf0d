"""What one batch of the sync holds: the messages to store, those skipped, where they come
from, and what committing them changed. Plain data, no database access."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.mail.parse import MessageMeta
from dashboard.sync.rules import Decision


@dataclass
class ToStore:
    """A message the rules kept, with its decoded bodies."""

    meta: MessageMeta
    decision: Decision
    body_text: str = ""
    body_html: str = ""


@dataclass
class ToSkip:
    """A message the rules (or the parser) turned down, and why."""

    uid: int
    reason: str
    meta: MessageMeta | None = None
    detail: str = ""
    outsiders: tuple[str, ...] = ()


@dataclass
class BatchPlace:
    """Where a batch comes from."""

    mailbox_id: int
    user_id: int
    folder: str
    uidvalidity: int


@dataclass
class BatchResult:
    """What one committed batch changed."""

    stored: int = 0  # new emails
    seen_again: int = 0  # copies of stored emails: known before, or twice in this batch
    leads_created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
