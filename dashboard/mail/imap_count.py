"""Counting a mailbox's messages before its first sync: in all, and since the import window.

Read-only (EXAMINE and SEARCH, no FETCH) and bounded by one time budget, so a page can ask
while it waits for nothing else. Failures leave as `ImapError`, as everywhere in mail/.
No Flask, no database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass

from dashboard.mail.imap_client import connect, set_deadline
from dashboard.mail.imap_fetch import examine, search_since
from dashboard.mail.net import ServerSettings


@dataclass(frozen=True)
class MessageCount:
    """Messages in the counted folders: `recent` arrived on or after the day asked about."""

    total: int
    recent: int

    @property
    def older(self) -> int:
        """Messages that arrived before that day."""
        return max(self.total - self.recent, 0)


def count_messages(
    settings: ServerSettings, folders: Iterable[str], since: dt.date, budget: float
) -> MessageCount:
    """Count the folders' messages (EXISTS) and those since a day (SEARCH SINCE, the
    sync's own first-pass search) within `budget` seconds."""
    deadline = time.monotonic() + budget
    total = recent = 0
    with connect(settings, deadline=deadline) as client:
        for folder in folders:
            set_deadline(client, settings, deadline)
            exists = examine(client, folder).exists
            total += exists
            if exists:
                set_deadline(client, settings, deadline)
                recent += len(search_since(client, since))
    return MessageCount(total, recent)
