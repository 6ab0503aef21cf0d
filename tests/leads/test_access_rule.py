"""The access rule as a table: every combination of who the email belongs to, whether the
viewer's mailbox saw it, who marked its thread private, the company visibility and the
viewer's role and state. Pure: no Flask, no database."""

from __future__ import annotations

import itertools

import pytest

from dashboard.leads.access import (
    Access,
    Relation,
    Viewer,
    best,
    email_access,
    may_handle_personal_data,
    relation_of,
)

F, S, M, N = Access.FULL, Access.SUBJECT, Access.METADATA, Access.NONE
VIEWER, TEAMMATE = 7, 8
VISIBILITIES = ("all", "subject", "metadata", "bogus")  # "bogus": a setting we do not know
OWNERS = {"viewer": VIEWER, "teammate": TEAMMATE, "nobody": None}
MARKS = {"unmarked": None, "by viewer": VIEWER, "by teammate": TEAMMATE}

# (the email's rep, seen in the viewer's mailbox, thread marked private)
#   -> level under visibility all, subject, metadata, bogus
TABLE = {
    ("viewer", False, "unmarked"): (F, F, F, F),
    ("viewer", False, "by viewer"): (F, F, F, F),
    ("viewer", False, "by teammate"): (F, F, F, F),  # own reply in a teammate's private thread
    ("viewer", True, "unmarked"): (F, F, F, F),
    ("viewer", True, "by viewer"): (F, F, F, F),
    ("viewer", True, "by teammate"): (F, F, F, F),
    ("teammate", True, "unmarked"): (F, F, F, F),  # the viewer was in To or Cc
    ("teammate", True, "by viewer"): (F, F, F, F),
    ("teammate", True, "by teammate"): (F, F, F, F),  # received it: a mark cannot take it back
    ("teammate", False, "unmarked"): (F, S, M, M),
    ("teammate", False, "by viewer"): (F, S, M, M),  # marking reveals nothing to the marker
    ("teammate", False, "by teammate"): (M, M, M, M),
    ("nobody", True, "unmarked"): (F, F, F, F),
    ("nobody", True, "by viewer"): (F, F, F, F),
    ("nobody", True, "by teammate"): (F, F, F, F),
    ("nobody", False, "unmarked"): (F, S, M, M),
    ("nobody", False, "by viewer"): (F, S, M, M),
    ("nobody", False, "by teammate"): (M, M, M, M),
}
CASES = [
    (owner, seen, mark, visibility, role, expected[VISIBILITIES.index(visibility)])
    for (owner, seen, mark), expected in TABLE.items()
    for visibility in VISIBILITIES
    for role in ("rep", "admin")
]


def test_the_table_has_every_combination() -> None:
    assert set(TABLE) == set(itertools.product(OWNERS, (False, True), MARKS))


@pytest.mark.parametrize(("owner", "seen", "mark", "visibility", "role", "expected"), CASES)
def test_an_active_viewer_sees_what_the_table_says_whatever_the_role(
    owner: str, seen: bool, mark: str, visibility: str, role: str, expected: Access
) -> None:
    viewer = Viewer(VIEWER, role=role)
    facts = {"rep_id": OWNERS[owner], "seen": seen, "private_by": MARKS[mark]}
    assert email_access(viewer, visibility=visibility, **facts) is expected


@pytest.mark.parametrize(("owner", "seen", "mark", "visibility", "role", "_active"), CASES)
def test_a_deactivated_viewer_sees_nothing(
    owner: str, seen: bool, mark: str, visibility: str, role: str, _active: Access
) -> None:
    viewer = Viewer(VIEWER, role=role, active=False)
    facts = {"rep_id": OWNERS[owner], "seen": seen, "private_by": MARKS[mark]}
    assert email_access(viewer, visibility=visibility, **facts) is N


@pytest.mark.parametrize(
    ("owner", "seen", "mark", "relation"),
    [
        ("viewer", False, "by teammate", Relation.OWN),
        ("teammate", True, "by teammate", Relation.OWN),
        ("teammate", False, "by teammate", Relation.PRIVATE),
        ("nobody", False, "by teammate", Relation.PRIVATE),
        ("teammate", False, "by viewer", Relation.TEAM),
        ("teammate", False, "unmarked", Relation.TEAM),
    ],
)
def test_relations_are_the_facts_sql_filters_on(
    owner: str, seen: bool, mark: str, relation: Relation
) -> None:
    facts = {"rep_id": OWNERS[owner], "seen": seen, "private_by": MARKS[mark]}
    assert relation_of(VIEWER, **facts) is relation


@pytest.mark.parametrize(
    ("level", "body", "subject", "listed", "columns"),
    [
        (F, True, True, True, ("subject", "body_text")),
        (S, False, True, True, ("subject",)),
        (M, False, False, True, ()),
        (N, False, False, False, ()),
    ],
)
def test_what_each_level_shows_and_lets_search_match(
    level: Access, body: bool, subject: bool, listed: bool, columns: tuple[str, ...]
) -> None:
    assert (level.shows_body, level.shows_subject, level.listed) == (body, subject, listed)
    assert level.search_columns == columns


def test_levels_keep_the_values_the_templates_compare() -> None:
    assert [F, S, M] == ["full", "subject", "metadata"]


@pytest.mark.parametrize(
    ("levels", "expected"),
    [([M, F, S], F), ([M, S], S), ([M, M], M), ([N, M], M), ([N], N), ([], N)],
)
def test_a_thread_shows_what_its_most_readable_email_allows(
    levels: list[Access], expected: Access
) -> None:
    assert best(levels) is expected


@pytest.mark.parametrize(
    ("viewer", "allowed"),
    [
        (Viewer(VIEWER, "admin"), True),
        (Viewer(VIEWER, "admin", active=False), False),
        (Viewer(VIEWER, "rep"), False),  # not even for a lead the rep owns
    ],
)
def test_only_active_admins_export_or_erase_a_persons_data(viewer: Viewer, allowed: bool) -> None:
    assert may_handle_personal_data(viewer) is allowed
