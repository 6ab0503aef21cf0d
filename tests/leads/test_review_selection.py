"""Which suggestions a review-queue action covers: the pure rule, then the queries and the
bulk decisions on a real database (no Flask request involved)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.db.engine import read_session, write_session
from dashboard.leads import review
from dashboard.leads.selection import (
    MAX_TICKED,
    ReviewFilter,
    Selection,
    clean_domain,
    covered,
    page_count,
    page_number,
)
from dashboard.models import DismissedAddress, Lead
from tests.support.lead_data import email_exists, lead_data, load_lead

# --- the pure rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "matching", "expected"),
    [
        (Selection(ids=frozenset({3, 5})), [1, 3, 5, 7], [3, 5]),
        (Selection(ids=frozenset({3, 99})), [1, 3, 5], [3]),  # 99: not a matching suggestion
        (Selection(ids=frozenset()), [1, 3], []),
        (Selection(everything=True, upto=5), [7, 1, 5, 3], [1, 3, 5]),  # 7 came after the page
        (Selection(everything=True, upto=None), [1, 3], []),  # no bound: not "everything"
        (Selection(everything=True, upto=100), [], []),
    ],
)
def test_an_action_covers_only_matching_suggestions(selection, matching, expected):
    assert covered(selection, matching) == expected


@pytest.mark.parametrize(
    ("ids", "scopes", "page_ids", "upto", "expected"),
    [
        (["4", "9"], [], ["1", "4", "9"], "12", Selection(ids=frozenset({4, 9}))),
        ([], ["page"], ["1", "4"], "12", Selection(ids=frozenset({1, 4}))),  # works without JS
        (["4"], ["page", "matching"], ["1", "4"], "12", Selection(everything=True, upto=12)),
        (["x", "-3", "0", "7"], [], [], None, Selection(ids=frozenset({7}))),
        ([], ["matching"], [], "nope", Selection(everything=True, upto=None)),
    ],
)
def test_the_form_is_read_into_a_selection(ids, scopes, page_ids, upto, expected):
    assert Selection.from_form(ids, scopes, page_ids, upto) == expected


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("@Fornecedor.com.br ", "fornecedor.com.br"),
        ("fornecedor.com.br", "fornecedor.com.br"),
        ("construção.com.br", "construção.com.br"),
        ("localhost", ""),
        ("a@b.com", ""),
        ("%.com", ""),
        ("", ""),
    ],
)
def test_a_domain_is_read_as_stored_or_refused(typed, domain):
    assert clean_domain(typed) == domain


def test_the_filter_round_trips_through_a_url():
    flt = ReviewFilter.from_args({"q": "  Paulo ", "domain": "@Alfa.com.br", "page": "2"})
    assert flt == ReviewFilter(q="Paulo", domain="alfa.com.br")
    assert ReviewFilter.from_args(flt.as_args()) == flt
    assert ReviewFilter().as_args() == {}


@pytest.mark.parametrize(
    ("asked", "total", "page"),
    [(None, 296, 1), ("2", 296, 2), ("12", 296, 12), ("13", 296, 12), ("0", 296, 1), ("x", 0, 1)],
)
def test_the_page_asked_for_stays_within_the_pages(asked, total, page):
    assert page_number(asked, total) == page
    assert page_count(296) == 12 and page_count(0) == 1


# --- the queries and bulk decisions -------------------------------------------------------


@pytest.fixture
def queue(engine, rep):  # type: ignore[no-untyped-def]
    """Suggestions from two domains (one with an email), a named one, and an active lead."""
    with lead_data(engine) as data:
        supplier = [
            data.lead(addresses=[f"p{i}@fornecedor.com.br"], source="sync", state="suggested")
            for i in range(4)
        ]
        paulo = data.lead(
            name="Paulo Mendes", addresses=["paulo.mendes@construtoraalfa.com.br"],
            source="sync", state="suggested", owner=rep,
        )  # fmt: skip
        email = data.email(supplier[0], rep=rep, direction="in", subject="Tabela de preços")
        active = data.lead(addresses=["ana@fornecedor.com.br"])
    return {"supplier": supplier, "paulo": paulo, "email": email, "active": active}


def ids_of(leads: list[Lead]) -> list[int]:
    """Sorted ids."""
    return sorted(lead.id for lead in leads)


def test_the_filter_matches_by_words_and_by_domain(engine, queue):
    with read_session(engine) as session:
        by_domain = ReviewFilter(domain="fornecedor.com.br")
        assert review.count_matching(session, by_domain) == 4  # the active lead is not counted
        assert review.count_matching(session, ReviewFilter(q="paulo alfa")) == 1
        assert review.count_matching(session, ReviewFilter(q="Méndes")) == 1  # accents folded
        assert review.count_matching(session, ReviewFilter(domain="com.br")) == 0  # exact domain
        assert review.count_matching(session, ReviewFilter()) == 5
        counts = review.domain_counts(session)
    assert counts == {"fornecedor.com.br": 4, "construtoraalfa.com.br": 1}


def test_everything_matching_covers_the_filter_across_pages_and_stops_at_the_bound(engine, rep):
    with lead_data(engine) as data:
        shown = [data.lead(addresses=[f"x{i}@lote.test"], state="suggested") for i in range(30)]
        data.lead(addresses=["outro@outro.test"], state="suggested")
    with read_session(engine) as session:
        upto = review.newest_id(session)
        assert len(review.page_of(session, ReviewFilter(domain="lote.test"), 2)) == 5
    with lead_data(engine) as data:  # arrives while the reviewer reads the page
        late = data.lead(addresses=["late@lote.test"], state="suggested")
    everything = Selection(everything=True, upto=upto)
    with write_session(engine) as session:
        ids = review.covered_ids(session, ReviewFilter(domain="lote.test"), everything)
        assert ids == ids_of(shown)
        assert review.accept(session, ids, rep.id) == 30
    assert load_lead(engine, late.id).state == "suggested"
    assert {load_lead(engine, i).state for i in ids} == {"active"}
    assert {load_lead(engine, i).owner_id for i in ids} == {rep.id}


def test_ticked_rows_outside_the_filter_or_the_queue_are_left_alone(engine, queue, rep):
    supplier, paulo, active = queue["supplier"], queue["paulo"], queue["active"]
    ticked = Selection(ids=frozenset({supplier[1].id, paulo.id, active.id}))
    with write_session(engine) as session:
        ids = review.covered_ids(session, ReviewFilter(domain="fornecedor.com.br"), ticked)
        assert ids == [supplier[1].id]
        review.accept(session, ids, rep.id)
    assert load_lead(engine, supplier[1].id).state == "active"
    assert load_lead(engine, paulo.id).state == "suggested"
    assert load_lead(engine, active.id).state == "active"


def test_bulk_accept_keeps_an_existing_owner(engine, queue, admin):
    paulo, first = queue["paulo"], queue["supplier"][0]
    with write_session(engine) as session:
        review.accept(session, [paulo.id, first.id], admin.id)
    assert load_lead(engine, paulo.id).owner_id == paulo.owner_id != admin.id
    assert load_lead(engine, first.id).owner_id == admin.id


def test_bulk_dismiss_forgets_the_suggestions_and_remembers_their_addresses(engine, queue, rep):
    supplier = queue["supplier"]
    with write_session(engine) as session:
        session.add(DismissedAddress(address="p3@fornecedor.com.br"))  # dismissed before
    with write_session(engine) as session:
        selection = Selection(everything=True, upto=review.newest_id(session))
        ids = review.covered_ids(session, ReviewFilter(domain="fornecedor.com.br"), selection)
        assert review.dismiss(session, ids, rep.id) == 4
    assert all(load_lead(engine, lead.id) is None for lead in supplier)
    assert not email_exists(engine, queue["email"].id)  # linked to no remaining lead
    assert load_lead(engine, queue["active"].id) is not None  # same domain, but a real lead
    assert load_lead(engine, queue["paulo"].id) is not None
    with read_session(engine) as session:
        dismissed = set(session.scalars(select(DismissedAddress.address)))
    assert dismissed == {f"p{i}@fornecedor.com.br" for i in range(4)}


def test_dismissing_keeps_an_email_another_lead_still_links(engine, rep):
    with lead_data(engine) as data:
        suggested = data.lead(state="suggested")
        kept = data.lead()
        shared = data.email([suggested, kept], rep=rep)
    with write_session(engine) as session:
        review.dismiss(session, [suggested.id], rep.id)
    assert load_lead(engine, suggested.id) is None
    assert email_exists(engine, shared.id)


def test_an_empty_selection_covers_nothing(engine, queue, rep):
    with write_session(engine) as session:
        assert review.covered_ids(session, ReviewFilter(), Selection()) == []
        assert review.accept(session, [], rep.id) == review.dismiss(session, [], rep.id) == 0


def test_a_selection_larger_than_one_statement_is_decided_whole(engine, rep):
    with lead_data(engine) as data:
        many = [data.lead(state="suggested") for _ in range(review.CHUNK + 20)]
        shared = data.email([many[0], many[-1]], rep=rep)  # linked across two statements
    with write_session(engine) as session:
        selection = Selection(everything=True, upto=review.newest_id(session))
        ids = review.covered_ids(session, ReviewFilter(), selection)
        assert review.dismiss(session, ids, rep.id) == len(many)
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0
        assert session.scalar(select(func.count()).select_from(DismissedAddress)) == len(many)
    assert not email_exists(engine, shared.id)


def test_ticked_ids_are_capped_at_what_pages_can_show():
    selection = Selection.from_form([str(n) for n in range(1, 100_000)], [], [], None)
    assert len(selection.ids) == MAX_TICKED
