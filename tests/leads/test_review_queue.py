"""The review queue at scale, through its routes: the total under a filter, pages, ticked
rows, the page, everything matching across pages, dismissing a domain, and the limits (CSRF,
only suggestions of the queue, HTMX)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.db.engine import read_session
from dashboard.models import DismissedAddress, Lead
from tests.support.lead_data import lead_data, load_lead
from tests.support.leads import ENGLISH, HTMX, page, text_of

SUPPLIER = "fornecedor.com.br"


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


@pytest.fixture
def queue(engine, rep):  # type: ignore[no-untyped-def]
    """30 suggestions from a supplier's domain (two pages), 3 from elsewhere, one active lead
    of the same domain."""
    with lead_data(engine) as data:
        supplier = [
            data.lead(
                name=f"Fornecedor {i}",
                addresses=[f"p{i}@{SUPPLIER}"],
                source="sync",
                state="suggested",
            )  # fmt: skip
            for i in range(30)
        ]
        others = [
            data.lead(addresses=[f"c{i}@cliente{i}.test"], source="sync", state="suggested")
            for i in range(3)
        ]
        active = data.lead(name="Ana Ativa", addresses=[f"ana@{SUPPLIER}"])
        for lead in supplier[:2]:
            data.email(lead, rep=rep, direction="in", subject=f"Cotação {lead.name}")
    return {"supplier": supplier, "others": others, "active": active}


def suggestion_ids(html: str) -> list[int]:
    """The suggestions shown on a page of the queue."""
    found = re.findall(r'<section class="card suggestion" id="suggestion-(\d+)"', html)
    return [int(n) for n in found]


def upto_of(html: str) -> str:
    """The bound of "all matching" the page carries."""
    found = re.search(r'name="upto" value="(\d+)"', html)
    assert found
    return found.group(1)


def states(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many leads are in each state."""
    with read_session(engine) as session:
        return dict(session.execute(select(Lead.state, func.count()).group_by(Lead.state)).all())


def flash_after(client, response) -> str:  # type: ignore[no-untyped-def]
    """The page a decision redirected to, as text (its flash message included)."""
    assert response.status_code == 302, response.status_code
    return text_of(page(client, response.headers["Location"]))


def test_the_queue_shows_its_total_and_pages_through_it(queue, rep_client):
    first = page(rep_client, "/leads/review")
    assert "33 suggestions wait for review" in text_of(first)
    assert len(suggestion_ids(first)) == 25 and "Page 1 of 2" in text_of(first)
    second = page(rep_client, "/leads/review?page=2")
    assert len(suggestion_ids(second)) == 8
    assert not set(suggestion_ids(first)) & set(suggestion_ids(second))
    assert "Select all 33 suggestions" in text_of(first)


def test_the_total_follows_the_filter(queue, rep_client):
    html = page(rep_client, f"/leads/review?domain=@{SUPPLIER}")
    assert "30 suggestions match the filter" in text_of(html)
    assert f"@{SUPPLIER} (30)" in text_of(html)  # the domain choices say how many
    named = page(rep_client, "/leads/review", query_string={"q": "Fornecedor p7@"})
    assert suggestion_ids(named) == [queue["supplier"][7].id]
    assert "1 suggestion matches the filter" in text_of(named)
    partial = page(rep_client, "/leads/review?q=zzz", headers=HTMX)
    assert "No suggestion matches the filter" in text_of(partial) and "<h1>" not in partial


def test_accepting_the_ticked_rows(engine, queue, rep, rep_client):
    ticked = [lead.id for lead in queue["supplier"][:3]]
    response = rep_client.post("/leads/review/bulk", data={"action": "accept", "lead": ticked})
    assert response.headers["Location"] == "/leads/review"
    text = flash_after(rep_client, response)
    assert "3 suggestions accepted." in text and "30 suggestions wait for review" in text
    assert {load_lead(engine, i).owner_id for i in ticked} == {rep.id}
    assert states(engine) == {"suggested": 30, "active": 4}


def test_the_page_box_selects_the_page_without_a_script(engine, queue, rep_client):
    html = page(rep_client, "/leads/review")
    shown = suggestion_ids(html)
    form = {"action": "accept", "scope": "page", "page_lead": shown, "upto": upto_of(html)}
    text = flash_after(rep_client, rep_client.post("/leads/review/bulk", data=form))
    assert "25 suggestions accepted." in text and "8 suggestions wait for review" in text


def test_everything_matching_the_filter_is_accepted_across_pages(engine, queue, rep_client):
    html = page(rep_client, f"/leads/review?domain={SUPPLIER}")
    assert len(suggestion_ids(html)) == 25  # one page shown, thirty matching
    form = {"action": "accept", "scope": "matching", "domain": SUPPLIER, "upto": upto_of(html)}
    response = rep_client.post("/leads/review/bulk", data=form)
    assert response.headers["Location"] == f"/leads/review?domain={SUPPLIER}"
    assert "30 suggestions accepted." in flash_after(rep_client, response)
    assert states(engine) == {"suggested": 3, "active": 31}  # the other domains wait


def test_everything_matching_leaves_suggestions_that_came_after_the_page(engine, queue, rep_client):
    html = page(rep_client, "/leads/review")
    with lead_data(engine) as data:
        late = data.lead(addresses=[f"late@{SUPPLIER}"], state="suggested")
    form = {"action": "dismiss", "scope": "matching", "upto": upto_of(html)}
    text = flash_after(rep_client, rep_client.post("/leads/review/bulk", data=form))
    assert "33 suggestions dismissed." in text
    assert load_lead(engine, late.id).state == "suggested"


def test_dismissing_a_domain_dismisses_all_its_suggestions_and_nothing_else(
    engine, queue, rep_client
):
    html = page(rep_client, "/leads/review")
    assert f"Dismiss all from @{SUPPLIER}" in text_of(html)
    form = {"domain": f"@{SUPPLIER}", "upto": upto_of(html)}
    text = flash_after(rep_client, rep_client.post("/leads/review/dismiss-domain", data=form))
    assert f"30 suggestions from @{SUPPLIER} dismissed." in text
    assert "3 suggestions wait for review" in text
    assert load_lead(engine, queue["active"].id).state == "active"  # a real lead stays
    with read_session(engine) as session:
        dismissed = set(session.scalars(select(DismissedAddress.address)))
    assert dismissed == {f"p{i}@{SUPPLIER}" for i in range(30)}


def test_the_queue_explains_what_a_dismissed_domain_means(queue, rep_client, admin_client):
    rep_text = text_of(page(rep_client, "/leads/review"))
    assert "new people from the domain may still be suggested" in rep_text
    assert "ask an administrator" in rep_text
    admin_html = page(admin_client, "/leads/review")
    assert 'href="/settings/company"' in admin_html


def test_a_rep_cannot_reach_leads_outside_the_queue_or_the_filter(engine, queue, rep_client):
    active, outside = queue["active"], queue["others"][0]
    form = {"action": "dismiss", "lead": [active.id, outside.id, 999999], "domain": SUPPLIER}
    text = flash_after(rep_client, rep_client.post("/leads/review/bulk", data=form))
    assert "nothing changed" in text
    assert load_lead(engine, active.id).state == "active"
    assert load_lead(engine, outside.id).state == "suggested"
    form = {"action": "accept", "scope": "matching", "domain": "cliente0.test"}  # no bound
    rep_client.post("/leads/review/bulk", data=form)
    assert load_lead(engine, outside.id).state == "suggested"


@pytest.mark.parametrize(
    ("url", "form"),
    [
        ("/leads/review/bulk", {"action": "accept", "scope": "matching", "upto": "999999"}),
        ("/leads/review/dismiss-domain", {"domain": SUPPLIER, "upto": "999999"}),
    ],
)
def test_bulk_actions_need_the_csrf_token(engine, queue, rep_client, url, form):
    assert rep_client.post(url, data=form, csrf=False).status_code == 400
    assert rep_client.post(url, data=form, csrf=False, headers=HTMX).status_code == 400
    assert states(engine) == {"suggested": 33, "active": 1}


def test_bad_bulk_requests_are_refused(engine, queue, rep_client):
    assert rep_client.post("/leads/review/bulk", data={"action": "delete"}).status_code == 400
    assert rep_client.post("/leads/review/dismiss-domain", data={"domain": "x"}).status_code == 400
    text = flash_after(rep_client, rep_client.post("/leads/review/bulk", data={"action": "accept"}))
    assert "Select at least one suggestion." in text
    assert states(engine) == {"suggested": 33, "active": 1}


def test_bulk_actions_answer_htmx_with_a_redirect(engine, queue, rep_client):
    form = {"action": "accept", "lead": [queue["supplier"][0].id], "q": "fornecedor"}
    response = rep_client.post("/leads/review/bulk", data=form, headers=HTMX)
    assert response.headers["HX-Redirect"] == "/leads/review?q=fornecedor"
    assert "1 suggestion accepted." in text_of(page(rep_client, "/leads/review"))


def test_signed_out_visitors_cannot_decide(engine, queue, client):
    form = {"action": "accept", "scope": "matching", "upto": "999999"}
    response = client.post("/leads/review/bulk", data=form)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert states(engine) == {"suggested": 33, "active": 1}
