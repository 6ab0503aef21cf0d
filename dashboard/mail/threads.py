"""The one thread-key rule: which conversation a message belongs to (pure, standard library).

The sync store and the smart-email storage both call `choose_thread_key`; `reference_ids`
names the message ids whose thread keys they must look up first.

Precedence, first that applies:
1. Gmail's thread id ("gm:<thrid>"): Gmail has already threaded the message, and its copy in
   every folder must land in the same thread.
2. The thread of the In-Reply-To message, when it is known: it names the direct parent,
   the message this one answers.
3. The thread of the nearest known ancestor in References (read newest first: the header
   lists ancestors oldest first, the parent last).
4. The message's own Message-ID: it starts a thread.

Why the parent wins over the root: the two disagree only when the store holds an ancestor
and the parent in different threads (Gmail split the conversation, or a client wrote
References by hand). The reply continues the parent's conversation, and References is the
header clients truncate and rewrite, In-Reply-To the one they set from the message being
answered. It is also the direction in which a late parent adopts its replies (store.threads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def gmail_thread_key(gm_thrid: int) -> str:
    """The key of Gmail's thread `gm_thrid` (step 1)."""
    return f"gm:{gm_thrid}"


def reference_ids(in_reply_to: str | None, references: Sequence[str]) -> list[str]:
    """The message ids a thread key may come from, nearest first (parent, then ancestors)."""
    nearest = [in_reply_to] if in_reply_to else []
    return [*nearest, *(r for r in reversed(references) if r and r != in_reply_to)]


def choose_thread_key(
    *,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    known: Mapping[str, str],
    gm_thrid: int | None = None,
) -> str:
    """The thread key of a message; `known` maps message ids already stored to their key."""
    if gm_thrid:
        return gmail_thread_key(gm_thrid)
    for parent in reference_ids(in_reply_to, references):
        if parent in known:
            return known[parent]
    return message_id
