"""Who may destroy a lead: delete it, merge it (either side), dismiss it from the review
queue. Its owner, anyone when nobody owns it, and admins (`may_destroy_lead`); a rep asking
for a teammate's lead gets 403 (they see it, they may not destroy it) and no button."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.leads.access import Viewer, may_destroy_lead
from dashboard.leads.access_queries import destroyable_by
from dashboard.models import Lead
from tests.support.lead_data import lead_data, load_lead
from tests.support.leads import ENGLISH, page, text_of

VIEWER, TEAMMATE = 7, 8


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


# --- the rule ----------------------------------------------------------------------------

TABLE = {  # (role, active, owner) -> may destroy
    ("rep", True, "viewer"): True,
    ("rep", True, "nobody"): True,
    ("rep", True, "teammate"): False,
    ("admin", True, "viewer"): True,
    ("admin", True, "nobody"): True,
    ("admin", True, "teammate"): True,
    ("rep", False, "viewer"): False,
    ("rep", False, "nobody"): False,
    ("rep", False, "teammate"): False,
    ("admin", False, "viewer"): False,
    ("admin", False, "nobody"): False,
    ("admin", False, "teammate"): False,
}
OWNERS = {"viewer": VIEWER, "nobody": None, "teammate": TEAMMATE}


def test_the_table_has_every_combination() -> None:
    assert set(TABLE) == set(itertools.product(("rep", "admin"), (True, False), OWNERS))


@pytest.mark.parametrize(("role", "active", "owner"), list(TABLE))
def test_the_rule_says_what_the_table_says(role: str, active: bool, owner: str) -> None:
    viewer = Viewer(VIEWER, role=role, active=active)
    assert may_destroy_lead(viewer, OWNERS[owner]) is TABLE[(role, active, owner)]


def test_the_sql_form_agrees_with_the_rule(engine, rep, teammate):  # type: ignore[no-untyped-def]
    with lead_data(engine) as data:
        leads = {"viewer": data.lead(owner=rep), "nobody": data.lead(),
                 "teammate": data.lead(owner=teammate)}  # fmt: skip
    ids = {lead.id: owner for owner, lead in leads.items()}
    for role, active in itertools.product(("rep", "admin"), (True, False)):
        viewer = Viewer(rep.id, role=role, active=active)
        with read_session(engine) as session:
            found = set(session.scalars(select(Lead.id).where(destroyable_by(viewer))))
        expected = {i for i, owner in ids.items() if TABLE[(role, active, owner)]}
        assert found == expected, (role, active)


# --- the lead page: delete and merge -----------------------------------------------------


@pytest.fixture
def leads(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """A lead of the rep, one of a teammate, one nobody owns."""
    with lead_data(engine) as data:
        own = data.lead(name="Own Lead", addresses=["own@client.test"], owner=rep)
        theirs = data.lead(name="Their Lead", addresses=["theirs@client.test"], owner=teammate)
        nobody = data.lead(name="Nobody's Lead", addresses=["nobody@client.test"])
    return {"own": own, "theirs": theirs, "nobody": nobody}


def has_destroy_buttons(html: str, lead_id: int) -> bool:
    """The lead page offers merge and delete."""
    merge, delete = f'action="/leads/{lead_id}/merge"', f'action="/leads/{lead_id}/delete"'
    assert (merge in html) == (delete in html)
    return delete in html


def test_a_rep_sees_no_delete_or_merge_on_a_teammates_lead(leads, rep_client, admin_client):
    for key, shown in (("own", True), ("nobody", True), ("theirs", False)):
        lead_id = leads[key].id
        html = page(rep_client, f"/leads/{lead_id}")
        assert has_destroy_buttons(html, lead_id) is shown, key
        assert has_destroy_buttons(page(admin_client, f"/leads/{lead_id}"), lead_id), key


def test_a_rep_cannot_delete_a_teammates_lead(engine, leads, rep_client):
    theirs = leads["theirs"]
    assert rep_client.post(f"/leads/{theirs.id}/delete").status_code == 403
    assert (
        rep_client.post(f"/leads/{theirs.id}/delete", headers={"HX-Request": "true"}).status_code
        == 403
    )
    assert load_lead(engine, theirs.id) is not None


@pytest.mark.parametrize("key", ["own", "nobody"])
def test_a_rep_deletes_their_own_lead_and_one_nobody_owns(engine, leads, rep_client, key):
    response = rep_client.post(f"/leads/{leads[key].id}/delete")
    assert response.status_code == 302
    assert load_lead(engine, leads[key].id) is None


def test_an_admin_deletes_a_reps_lead(engine, leads, admin_client):
    assert admin_client.post(f"/leads/{leads['theirs'].id}/delete").status_code == 302
    assert load_lead(engine, leads["theirs"].id) is None


def test_a_rep_cannot_merge_into_a_teammates_lead(engine, leads, rep_client):
    theirs = leads["theirs"]
    response = rep_client.post(f"/leads/{theirs.id}/merge", data={"other": "own@client.test"})
    assert response.status_code == 403
    assert load_lead(engine, leads["own"].id) is not None


def test_a_rep_cannot_merge_a_teammates_lead_away(engine, leads, rep_client):
    own = leads["own"]
    response = rep_client.post(f"/leads/{own.id}/merge", data={"other": "theirs@client.test"})
    assert response.status_code == 403
    assert load_lead(engine, leads["theirs"].id) is not None


def test_a_rep_merges_a_lead_nobody_owns_into_their_own(engine, leads, rep_client):
    own = leads["own"]
    response = rep_client.post(f"/leads/{own.id}/merge", data={"other": "nobody@client.test"})
    assert response.status_code == 302
    assert load_lead(engine, leads["nobody"].id) is None


def test_an_admin_merges_two_reps_leads(engine, leads, admin_client):
    theirs = leads["theirs"]
    response = admin_client.post(f"/leads/{theirs.id}/merge", data={"other": "own@client.test"})
    assert response.status_code == 302
    assert load_lead(engine, leads["own"].id) is None


def test_a_rep_still_edits_a_teammates_lead(engine, leads, rep_client):
    """Editing destroys nothing: every rep may still correct any lead."""
    theirs = leads["theirs"]
    form = {"name": "Renamed", "addresses": "theirs@client.test", "company": "", "phone": "",
            "owner": str(theirs.owner_id)}  # fmt: skip
    assert rep_client.post(f"/leads/{theirs.id}/edit", data=form).status_code == 302
    assert load_lead(engine, theirs.id).name == "Renamed"


def test_a_rep_cannot_take_a_teammates_lead_to_delete_it(engine, leads, rep, rep_client):
    theirs = leads["theirs"]
    form = {"name": "Mine now", "addresses": "theirs@client.test", "company": "", "phone": "",
            "owner": str(rep.id)}  # fmt: skip
    response = rep_client.post(f"/leads/{theirs.id}/edit", data=form)
    assert response.status_code == 422
    assert "Only the lead&#39;s owner or an admin may give it to someone else." in (
        response.data.decode()
    )
    assert (load_lead(engine, theirs.id).owner_id, load_lead(engine, theirs.id).name) == (
        theirs.owner_id,
        "Their Lead",
    )


def test_an_owner_gives_their_lead_to_a_teammate(engine, leads, teammate, rep_client):
    own = leads["own"]
    form = {"name": "Own Lead", "addresses": "own@client.test", "company": "", "phone": "",
            "owner": str(teammate.id)}  # fmt: skip
    assert rep_client.post(f"/leads/{own.id}/edit", data=form).status_code == 302
    assert load_lead(engine, own.id).owner_id == teammate.id


def test_an_admin_gives_a_reps_lead_to_another(engine, leads, rep, admin_client):
    theirs = leads["theirs"]
    form = {"name": "Their Lead", "addresses": "theirs@client.test", "company": "", "phone": "",
            "owner": str(rep.id)}  # fmt: skip
    assert admin_client.post(f"/leads/{theirs.id}/edit", data=form).status_code == 302
    assert load_lead(engine, theirs.id).owner_id == rep.id


# --- the review queue: dismissing deletes the suggestion ---------------------------------


@pytest.fixture
def suggestions(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """Suggestions from one domain: the rep's, a teammate's, nobody's."""
    with lead_data(engine) as data:
        made = {
            key: data.lead(
                name=f"Suggested {key}",
                addresses=[f"{key}@prospect.test"],
                source="sync",
                state="suggested",
                owner=owner,
            )  # fmt: skip
            for key, owner in (("own", rep), ("theirs", teammate), ("nobody", None))
        }
    return made


def section_of(html: str, lead_id: int) -> str:
    """One suggestion's card in the queue."""
    return html.split(f'id="suggestion-{lead_id}"')[1].split("</section>")[0]


def test_the_queue_hides_dismiss_on_a_teammates_suggestion(suggestions, rep_client, admin_client):
    rep_html, admin_html = page(rep_client, "/leads/review"), page(admin_client, "/leads/review")
    for key, shown in (("own", True), ("nobody", True), ("theirs", False)):
        lead_id = suggestions[key].id
        dismiss = f'action="/leads/{lead_id}/dismiss"'
        assert (dismiss in section_of(rep_html, lead_id)) is shown, key
        assert f'action="/leads/{lead_id}/accept"' in section_of(rep_html, lead_id)
        assert dismiss in section_of(admin_html, lead_id)


def test_a_rep_cannot_dismiss_a_teammates_suggestion(engine, suggestions, rep_client):
    theirs = suggestions["theirs"]
    assert rep_client.post(f"/leads/{theirs.id}/dismiss").status_code == 403
    assert load_lead(engine, theirs.id).state == "suggested"


@pytest.mark.parametrize("key", ["own", "nobody"])
def test_a_rep_dismisses_their_own_suggestion_and_one_nobody_owns(
    engine, suggestions, rep_client, key
):
    assert rep_client.post(f"/leads/{suggestions[key].id}/dismiss").status_code == 302
    assert load_lead(engine, suggestions[key].id) is None


def test_a_rep_accepts_a_teammates_suggestion(engine, suggestions, teammate, rep_client):
    theirs = suggestions["theirs"]
    assert rep_client.post(f"/leads/{theirs.id}/accept").status_code == 302
    assert (load_lead(engine, theirs.id).state, load_lead(engine, theirs.id).owner_id) == (
        "active",
        teammate.id,
    )


def test_an_admin_dismisses_a_reps_suggestion(engine, suggestions, admin_client):
    assert admin_client.post(f"/leads/{suggestions['theirs'].id}/dismiss").status_code == 302
    assert load_lead(engine, suggestions["theirs"].id) is None


def test_a_bulk_dismissal_leaves_teammates_suggestions_and_says_so(engine, suggestions, rep_client):
    form = {"action": "dismiss", "lead": [s.id for s in suggestions.values()]}
    response = rep_client.post("/leads/review/bulk", data=form)
    text = text_of(page(rep_client, response.headers["Location"]))
    assert "2 suggestions dismissed." in text
    assert "1 suggestion of another rep was left" in text
    assert load_lead(engine, suggestions["theirs"].id).state == "suggested"
    assert load_lead(engine, suggestions["own"].id) is None
    assert load_lead(engine, suggestions["nobody"].id) is None


def test_dismissing_everything_matching_leaves_teammates_suggestions(
    engine, suggestions, rep_client
):
    upto = str(max(s.id for s in suggestions.values()))
    form = {"action": "dismiss", "scope": "matching", "upto": upto}
    rep_client.post("/leads/review/bulk", data=form)
    assert load_lead(engine, suggestions["theirs"].id).state == "suggested"
    assert load_lead(engine, suggestions["own"].id) is None


def test_dismissing_a_domain_leaves_teammates_suggestions(engine, suggestions, rep_client):
    upto = str(max(s.id for s in suggestions.values()))
    response = rep_client.post(
        "/leads/review/dismiss-domain", data={"domain": "prospect.test", "upto": upto}
    )
    text = text_of(page(rep_client, response.headers["Location"]))
    assert "2 suggestions from @prospect.test dismissed." in text
    assert "1 suggestion of another rep was left" in text
    assert load_lead(engine, suggestions["theirs"].id).state == "suggested"


def test_an_admin_dismisses_a_whole_domain(engine, suggestions, admin_client):
    upto = str(max(s.id for s in suggestions.values()))
    admin_client.post(
        "/leads/review/dismiss-domain", data={"domain": "prospect.test", "upto": upto}
    )
    assert all(load_lead(engine, s.id) is None for s in suggestions.values())
