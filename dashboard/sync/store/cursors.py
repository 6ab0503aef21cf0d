"""Folder cursors: the last UID of each folder the sync has accounted for.

The cursor rule: a cursor only moves forward, and only in the transaction that stores, or
records the skip of, every message up to its new UID (commit.commit_batch calls
`advance_cursor` last). A crash therefore replays at most one batch, which the idempotent
writes make harmless.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import Session

from dashboard.models import FolderCursor, utcnow
from dashboard.sync.store.batch import BatchPlace


def cursor_for(session: Session, mailbox_id: int, folder: str) -> FolderCursor:
    """The folder's cursor, created at zero the first time."""
    cursor = session.scalars(
        select(FolderCursor).where(
            FolderCursor.mailbox_id == mailbox_id, FolderCursor.folder == folder
        )
    ).first()
    return cursor or FolderCursor(mailbox_id=mailbox_id, folder=folder)


def cursors_of(session: Session, mailbox_id: int, folders: list[str]) -> dict[str, FolderCursor]:
    """The cursor of each of these folders, created at zero for those never synced."""
    found = session.scalars(
        select(FolderCursor).where(
            FolderCursor.mailbox_id == mailbox_id, FolderCursor.folder.in_(folders)
        )
    )
    known = {cursor.folder: cursor for cursor in found}
    return {f: known.get(f) or FolderCursor(mailbox_id=mailbox_id, folder=f) for f in folders}


def advance_cursor(session: Session, place: BatchPlace, last_uid: int, processed: int) -> None:
    """Move the cursor forward (never backward) and count progress."""
    session.execute(
        update(FolderCursor)
        .where(
            FolderCursor.mailbox_id == place.mailbox_id,
            FolderCursor.folder == place.folder,
            FolderCursor.last_uid < last_uid,
        )
        .values(last_uid=last_uid, updated_at=utcnow(), done=FolderCursor.done + processed)
    )
