"""rules.folder_is_current: when a round may leave a folder alone (no EXAMINE, no SEARCH)."""

from __future__ import annotations

import pytest

from dashboard.sync.rules import FolderMark, folder_is_current


@pytest.mark.parametrize(
    ("mark", "rescan", "current"),
    [
        # cursor UIDVALIDITY, last UID, done, total | server UIDVALIDITY, UIDNEXT
        (FolderMark(7, 120, 50, 50, 7, 121), False, True),  # nothing above the cursor
        (FolderMark(7, 120, 50, 50, 7, 100), False, True),  # messages expunged: still nothing new
        (FolderMark(7, 120, 50, 50, 7, 122), False, False),  # one new message
        (FolderMark(7, 120, 50, 50, 8, 121), False, False),  # UIDVALIDITY changed: re-scan
        (FolderMark(0, 0, 0, 0, 7, 1), False, False),  # never synced
        (FolderMark(7, 120, 30, 50, 7, 121), False, False),  # a windowed pass was cut short
        (FolderMark(7, 120, 50, 50, 7, 121), True, False),  # a re-scan was asked for
        (FolderMark(7, 120, 50, 50, 7, 0), False, False),  # the server gave no UIDNEXT
    ],
)
def test_a_folder_is_current_only_when_nothing_is_left_to_fetch(mark, rescan, current):
    assert folder_is_current(mark, rescan) is current
