"""Who may read what: the one rule for every email the dashboard shows (pure).

The timeline (collapsed and expanded), the review queue, the body document, its frame and
inline images, attachment downloads and the reply prefill all ask `email_access` (the
timeline in its two steps, `relation_of` then `level_of`, as it also shows "own mail").
Search, which must filter in SQL, asks `level_of` for each `Relation`; its SQL only says
which emails stand in which relation (`dashboard/leads/access_queries.py`), and a test
builds every combination in a database to check that each place agrees with this module.

The rule, in order:

1. A deactivated viewer sees nothing (`NONE`). Login already refuses them; the signed URLs
   of inline images outlive a session and name their viewer, so the rule says it too.
2. Own mail is `FULL`: the viewer is the email's rep, or the email was synced from the
   viewer's mailbox (they were in To or Cc). It stays `FULL` inside a thread a teammate
   marked private: the viewer wrote or received that email already, so the timeline, the
   body, its attachments and a reply to it all open for them.
3. A teammate's email in a thread another rep marked private: `METADATA`, whatever the
   company visibility.
4. Any other email: the company visibility, "all" -> `FULL`, "subject" -> `SUBJECT`,
   "metadata" -> `METADATA`; an unknown setting is read as "metadata". That includes a
   teammate's email in a thread the viewer marked private: the mark hides a thread from
   others, it reveals nothing to the one who set it.

Admins see exactly what reps see. The private mark protects a rep's conversations from the
whole team, admins included, and an admin who needs more changes the company visibility,
openly, for everyone; the role is part of `Viewer` so that this stays a written decision.

Who may destroy a lead (delete it, merge it, dismiss a suggestion) is `may_destroy_lead`:
the lead's owner, anyone when it has no owner, and admins; `destroyable_by` in
`access_queries.py` is the same rule in SQL, for bulk dismissal. Exporting or erasing a
lead's data (LGPD) is `may_handle_personal_data`: admins only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Access(StrEnum):
    """What a viewer sees of one email; the values are what the templates compare."""

    FULL = "full"  # everything: subject, people, body, attachments; may be replied to
    SUBJECT = "subject"  # subject and people (From, To, Cc); no body, no attachments
    METADATA = "metadata"  # date, direction and rep only: listed, never searched
    NONE = "none"  # not listed on any page, not matched by search, every route answers 404

    @property
    def shows_body(self) -> bool:
        """Body, inline images, attachments and the reply prefill."""
        return self is Access.FULL

    @property
    def shows_subject(self) -> bool:
        """Subject, sender and recipients."""
        return self in (Access.FULL, Access.SUBJECT)

    @property
    def listed(self) -> bool:
        """The email appears at all (as metadata at least)."""
        return self is not Access.NONE

    @property
    def search_columns(self) -> tuple[str, ...]:
        """The full-text columns search may match: no more than the viewer can read."""
        if self is Access.FULL:
            return ("subject", "body_text")
        return ("subject",) if self is Access.SUBJECT else ()


RANK = (Access.NONE, Access.METADATA, Access.SUBJECT, Access.FULL)
BY_VISIBILITY = {"all": Access.FULL, "subject": Access.SUBJECT, "metadata": Access.METADATA}


class Relation(StrEnum):
    """How an email stands to the viewer: the facts the level depends on, besides settings."""

    OWN = "own"  # the viewer's rep'd mail, or mail synced from the viewer's mailbox
    PRIVATE = "private"  # someone else's, in a thread another rep marked private
    TEAM = "team"  # someone else's, anywhere else


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person asking: a user's id, role ("admin" | "rep") and whether they are active."""

    id: int
    role: str = "rep"
    active: bool = True


def relation_of(
    viewer_id: int, *, rep_id: int | None, seen: bool, private_by: int | None
) -> Relation:
    """The email's relation to the viewer: `rep_id` its rep, `seen` synced from the viewer's
    mailbox, `private_by` who marked its thread private (None: nobody)."""
    if seen or rep_id == viewer_id:
        return Relation.OWN
    if private_by is not None and private_by != viewer_id:
        return Relation.PRIVATE
    return Relation.TEAM


def level_of(viewer: Viewer, relation: Relation, visibility: str) -> Access:
    """The access a viewer has to an email of this relation under the company visibility."""
    if not viewer.active:
        return Access.NONE
    if relation is Relation.OWN:
        return Access.FULL
    if relation is Relation.PRIVATE:
        return Access.METADATA
    return BY_VISIBILITY.get(visibility, Access.METADATA)


def email_access(
    viewer: Viewer, *, rep_id: int | None, seen: bool, private_by: int | None, visibility: str
) -> Access:
    """What this viewer may see of one email (the rule in the module docstring)."""
    relation = relation_of(viewer.id, rep_id=rep_id, seen=seen, private_by=private_by)
    return level_of(viewer, relation, visibility)


def best(levels: Iterable[Access]) -> Access:
    """The widest of these levels (a thread shows what its most readable email allows)."""
    return max(levels, key=RANK.index, default=Access.NONE)


def may_destroy_lead(viewer: Viewer, owner_id: int | None) -> bool:
    """Whether the viewer may delete this lead, merge it (either side), or dismiss it from the
    review queue: an admin any lead; a rep a lead they own or that nobody owns. Every rep sees
    every lead and may edit it; destroying another rep's lead takes its owner or an admin."""
    if not viewer.active:
        return False
    return viewer.role == "admin" or owner_id is None or owner_id == viewer.id


def may_handle_personal_data(viewer: Viewer) -> bool:
    """Whether the viewer may export a lead's data or erase it at the person's request
    (LGPD): active admins only. What the export then holds of each email is still
    `email_access`; the erasure takes every email that involves only this lead."""
    return viewer.active and viewer.role == "admin"
