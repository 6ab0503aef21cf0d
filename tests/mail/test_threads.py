"""The one thread-key rule, as a table (no database: `known` stands for the stored emails)."""

from __future__ import annotations

import pytest

from dashboard.mail.threads import choose_thread_key, reference_ids

KNOWN = {"<root@x>": "t-root", "<mid@x>": "t-mid", "<parent@x>": "t-parent"}


@pytest.mark.parametrize(
    ("gm_thrid", "in_reply_to", "references", "expected"),
    [
        (None, None, [], "<me@x>"),  # nothing known: it starts a thread
        (77, "<parent@x>", ["<root@x>", "<parent@x>"], "gm:77"),  # Gmail has threaded it
        (None, "<parent@x>", [], "t-parent"),
        (None, None, ["<root@x>"], "t-root"),
        # The old functions disagreed here: the sync took the first reference (the root),
        # the smart-email storage the parent. The parent wins.
        (None, "<parent@x>", ["<root@x>", "<parent@x>"], "t-parent"),
        (None, "<parent@x>", ["<root@x>"], "t-parent"),  # In-Reply-To missing from References
        # Parent unknown: the nearest known ancestor, not the root.
        (None, "<lost@x>", ["<root@x>", "<mid@x>", "<lost@x>"], "t-mid"),
        (None, None, ["<root@x>", "<mid@x>"], "t-mid"),
        (None, "<lost@x>", ["<gone@x>"], "<me@x>"),  # nothing known
        (0, None, ["<root@x>"], "t-root"),  # no Gmail thread id (0 is not one)
    ],
)
def test_thread_key_precedence(
    gm_thrid: int | None, in_reply_to: str | None, references: list[str], expected: str
) -> None:
    key = choose_thread_key(
        message_id="<me@x>",
        in_reply_to=in_reply_to,
        references=references,
        known=KNOWN,
        gm_thrid=gm_thrid,
    )
    assert key == expected


def test_reference_ids_are_nearest_first_without_repeats() -> None:
    refs = ["<root@x>", "<mid@x>", "<parent@x>"]
    assert reference_ids("<parent@x>", refs) == ["<parent@x>", "<mid@x>", "<root@x>"]
    assert reference_ids(None, refs) == ["<parent@x>", "<mid@x>", "<root@x>"]
    assert reference_ids(None, []) == []
