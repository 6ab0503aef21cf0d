"""Which folders of a mailbox matter: the Sent folder, and the ones worth syncing (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SENT_NAMES = (
    "sent", "sent mail", "sent messages", "sent items", "enviados",
    "itens enviados", "e-mails enviados", "mensagens enviadas",
)  # fmt: skip
NEVER_SYNC_FLAGS = frozenset({"\\Trash", "\\Junk", "\\Drafts"})
UNSELECTABLE = frozenset({"\\noselect", "\\nonexistent"})


@dataclass(frozen=True)
class FolderInfo:
    """One LIST entry: name (decoded), flags as strings, hierarchy delimiter ('' if flat)."""

    name: str
    flags: tuple[str, ...]
    delimiter: str


def has_flag(folder: FolderInfo, flags: Iterable[str]) -> bool:
    """True when the folder carries any of flags (IMAP flags are case-insensitive)."""
    wanted = {flag.lower() for flag in flags}
    return any(flag.lower() in wanted for flag in folder.flags)


def leaf_name(folder: FolderInfo) -> str:
    """Return the last path component of a folder name, case-folded."""
    name = folder.name.rsplit(folder.delimiter, 1)[-1] if folder.delimiter else folder.name
    return name.casefold()


def find_sent_folder(folders: Iterable[FolderInfo]) -> tuple[str | None, str | None]:
    """Return (Sent folder name, "flag" | "name") by \\Sent flag, then by known names."""
    selectable = [f for f in folders if not has_flag(f, UNSELECTABLE)]
    for folder in selectable:
        if has_flag(folder, ["\\Sent"]):
            return folder.name, "flag"
    for wanted in SENT_NAMES:  # in order of preference when several exist
        for folder in selectable:
            if leaf_name(folder) == wanted:
                return folder.name, "name"
    return None, None


def syncable_folders(folders: Iterable[FolderInfo]) -> tuple[FolderInfo, ...]:
    """Return the folders worth syncing: not Trash/Junk/Drafts, not \\Noselect."""
    return tuple(f for f in folders if not has_flag(f, NEVER_SYNC_FLAGS | UNSELECTABLE))
