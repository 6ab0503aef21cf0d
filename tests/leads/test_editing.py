"""Leads by hand: create, edit (retroactive linking flags), merge, delete, the review queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from dashboard.db.engine import read_session
from dashboard.models import Company, DismissedAddress, Email, Lead, SkippedMessage
from dashboard.sync.rules import CompanyIdentity, MessageFacts, NeverLogList, SyncPolicy, decide
from tests.support.database import email_text_ids
from tests.support.lead_data import (
    BASE_DATE,
    addresses_of,
    email_exists,
    lead_data,
    linked_lead_ids,
    load_lead,
)
from tests.support.leads import (
    ENGLISH,
    HTMX,
    counted_queries,
    listed_ids,
    page,
    text_of,
    thread_subjects,
)


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


def lead_form(**fields: object) -> dict:
    """The lead form, filled."""
    form = {"name": "Ana Souza", "addresses": "ana@client.test", "company": "Client SA",
            "phone": "+55 11 99999-0000", "owner": "0"}  # fmt: skip
    form.update({key: str(value) for key, value in fields.items()})
    return form


def all_leads(engine) -> list[Lead]:  # type: ignore[no-untyped-def]
    """Every stored lead."""
    with read_session(engine) as session:
        return list(session.scalars(select(Lead).order_by(Lead.id)))


def relink_flags(engine) -> dict[int, bool]:  # type: ignore[no-untyped-def]
    """Skip ledger row id -> relink flag."""
    with read_session(engine) as session:
        return dict(session.execute(select(SkippedMessage.id, SkippedMessage.relink)).all())


def naive(when):  # type: ignore[no-untyped-def]
    """A UTC time without its zone (SQLite keeps none)."""
    return when.replace(tzinfo=None)


def after_redirect(client, response) -> str:  # type: ignore[no-untyped-def]
    """Follow a redirect and return the page."""
    assert response.status_code == 302, response.data[:500]
    return page(client, response.headers["Location"])


# --- create ------------------------------------------------------------------------------


def test_the_new_lead_form_proposes_the_viewer_as_owner(rep, rep_client):
    html = page(rep_client, "/leads/new")
    assert 'id="lead-form"' in html
    assert f'<option selected value="{rep.id}">' in html


def test_a_rep_creates_a_lead_by_hand(engine, rep, rep_client):
    response = rep_client.post(
        "/leads/new",
        data=lead_form(addresses="Ana@Client.test\n ana.souza@home.test, ", owner=rep.id),
    )
    (lead,) = all_leads(engine)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/leads/{lead.id}")
    assert (lead.name, lead.company_name, lead.phone) == (
        "Ana Souza",
        "Client SA",
        "+55 11 99999-0000",
    )
    assert (lead.owner_id, lead.source, lead.state) == (rep.id, "manual", "active")
    assert addresses_of(engine, lead.id) == ["ana@client.test", "ana.souza@home.test"]

    html = page(rep_client, response.headers["Location"])
    assert "Lead created." in html and "ana.souza@home.test" in html
    assert listed_ids(page(rep_client, "/leads/?q=souza")) == [lead.id]  # searchable at once


def test_a_lead_without_a_name_is_named_after_its_address(engine, rep_client):
    rep_client.post("/leads/new", data=lead_form(name="", addresses="bruno@client.test"))
    assert [lead.name for lead in all_leads(engine)] == ["bruno"]


@pytest.mark.parametrize("addresses", ["", "   ", " , \n ,"])
def test_a_lead_needs_an_address(engine, rep_client, addresses):
    response = rep_client.post("/leads/new", data=lead_form(addresses=addresses))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This field is required." in html or "Enter at least one email address." in html
    assert all_leads(engine) == []


def test_a_malformed_address_is_refused(engine, rep_client):
    response = rep_client.post(
        "/leads/new", data=lead_form(addresses="ok@client.test\nnot-an-email")
    )
    assert response.status_code == 422
    assert "Enter a valid email address." in response.get_data(as_text=True)
    assert all_leads(engine) == []


def test_an_address_of_another_lead_is_refused(engine, rep_client):
    with lead_data(engine) as data:
        existing = data.lead(addresses=["taken@client.test"])
    response = rep_client.post(
        "/leads/new", data=lead_form(addresses="new@client.test\nTAKEN@client.test")
    )
    assert response.status_code == 422
    assert "taken@client.test already belongs to another lead." in response.get_data(as_text=True)
    assert [lead.id for lead in all_leads(engine)] == [existing.id]
    assert addresses_of(engine, existing.id) == ["taken@client.test"]


def test_a_plus_tag_is_dropped_from_a_typed_address(engine, rep_client):
    """One mailbox, one person: "+crm" and "+news" are the same lead's address."""
    rep_client.post(
        "/leads/new", data=lead_form(addresses="Ana+CRM@Client.test\nana+news@client.test")
    )
    (lead,) = all_leads(engine)
    assert addresses_of(engine, lead.id) == ["ana@client.test"]


def test_a_tagged_form_of_another_leads_address_is_refused(engine, rep_client):
    with lead_data(engine) as data:
        existing = data.lead(addresses=["taken@client.test"])
    response = rep_client.post("/leads/new", data=lead_form(addresses="taken+crm@client.test"))
    assert response.status_code == 422
    assert "taken@client.test already belongs to another lead." in response.get_data(as_text=True)
    assert [lead.id for lead in all_leads(engine)] == [existing.id]


def test_htmx_form_errors_come_back_as_422_and_success_as_hx_redirect(engine, rep_client):
    bad = rep_client.post("/leads/new", data=lead_form(addresses=""), headers=HTMX)
    assert bad.status_code == 422
    good = rep_client.post("/leads/new", data=lead_form(), headers=HTMX)
    (lead,) = all_leads(engine)
    assert good.headers["HX-Redirect"] == f"/leads/{lead.id}"


def test_creating_a_lead_flags_its_past_no_lead_mail_for_relinking(engine, rep, rep_client):
    with lead_data(engine) as data:
        mine = data.no_lead_skip(rep, "ana@client.test", "other@client.test")
        unrelated = data.no_lead_skip(rep, "someone@else.test")
    rep_client.post("/leads/new", data=lead_form(addresses="Ana@client.test"))
    assert relink_flags(engine) == {mine: True, unrelated: False}


# --- edit --------------------------------------------------------------------------------


def test_the_edit_form_is_filled_with_the_lead(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(name="Carla", addresses=["c1@client.test", "c2@client.test"], owner=rep)
    html = page(rep_client, f"/leads/{lead.id}/edit")
    assert 'value="Carla"' in html and "c1@client.test\nc2@client.test" in html
    assert f'<option selected value="{rep.id}">' in html


def test_editing_changes_fields_and_adding_an_address_flags_its_ledger_rows(
    engine, rep, admin, rep_client
):
    with lead_data(engine) as data:
        lead = data.lead(name="Carla", addresses=["c1@client.test"], owner=rep)
        added = data.no_lead_skip(rep, "carla@newjob.test")
        added_elsewhere = data.no_lead_skip(admin, "boss@x.test", "carla@newjob.test")
        other = data.no_lead_skip(rep, "nobody@x.test")
        kept = data.no_lead_skip(rep, "c1@client.test")  # already a lead address: no change
        too_large = data.no_lead_skip(rep, "carla@newjob.test")  # a lead does not change that
        data.session.execute(
            text("UPDATE skippedmessage SET reason = 'too_large' WHERE id = :i"), {"i": too_large}
        )

    response = rep_client.post(
        f"/leads/{lead.id}/edit",
        data=lead_form(
            name="Carla Dias", addresses="c1@client.test\nCarla@NewJob.test", company="New Job",
            owner=admin.id,
        ),
    )  # fmt: skip
    html = after_redirect(rep_client, response)

    assert "Lead saved." in html
    stored = load_lead(engine, lead.id)
    assert (stored.name, stored.company_name, stored.owner_id) == (
        "Carla Dias",
        "New Job",
        admin.id,
    )
    assert addresses_of(engine, lead.id) == ["c1@client.test", "carla@newjob.test"]
    assert relink_flags(engine) == {
        added: True,
        added_elsewhere: True,
        other: False,
        kept: False,
        too_large: False,
    }
    assert listed_ids(page(rep_client, "/leads/?q=new job")) == [lead.id]


def test_removing_an_address_frees_it_for_another_lead(engine, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(addresses=["a@client.test", "b@client.test"])
    rep_client.post(f"/leads/{lead.id}/edit", data=lead_form(addresses="a@client.test"))
    assert addresses_of(engine, lead.id) == ["a@client.test"]
    response = rep_client.post("/leads/new", data=lead_form(addresses="b@client.test"))
    assert response.status_code == 302


def test_editing_refuses_another_leads_address_and_changes_nothing(engine, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(name="Keep", addresses=["mine@client.test"])
        data.lead(addresses=["theirs@client.test"])
    response = rep_client.post(
        f"/leads/{lead.id}/edit",
        data=lead_form(name="Changed", addresses="theirs@client.test"),
    )
    assert response.status_code == 422
    assert "theirs@client.test already belongs to another lead." in response.get_data(as_text=True)
    assert load_lead(engine, lead.id).name == "Keep"
    assert addresses_of(engine, lead.id) == ["mine@client.test"]


def test_editing_needs_an_address(engine, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(addresses=["mine@client.test"])
    response = rep_client.post(f"/leads/{lead.id}/edit", data=lead_form(addresses=" , "))
    assert response.status_code == 422
    assert addresses_of(engine, lead.id) == ["mine@client.test"]


# --- merge -------------------------------------------------------------------------------


@pytest.fixture
def pair(engine, rep, admin):  # type: ignore[no-untyped-def]
    """Two leads for the same person, with their own and a shared email."""
    with lead_data(engine) as data:
        keep = data.lead(name="Ana", addresses=["ana@client.test"])
        other = data.lead(
            name="Ana S.", addresses=["ana@home.test", "a.s@home.test"], company="Home Co",
            phone="123", owner=admin,
        )  # fmt: skip
        own = data.email(keep, rep=rep, direction="out", date=BASE_DATE, subject="Keep's")
        theirs = data.email(
            other, rep=admin, direction="in", date=BASE_DATE + timedelta(days=5), subject="Other's"
        )
        shared = data.email([keep, other], rep=rep, date=BASE_DATE + timedelta(days=1))
    return {"keep": keep, "other": other, "own": own, "theirs": theirs, "shared": shared}


def test_merging_moves_addresses_and_emails_and_refreshes_the_summary(
    engine, pair, admin, admin_client
):
    keep, other = pair["keep"], pair["other"]
    response = admin_client.post(f"/leads/{keep.id}/merge", data={"other": "  A.S@Home.test "})
    html = after_redirect(admin_client, response)

    assert response.headers["Location"].endswith(f"/leads/{keep.id}")
    assert "Leads merged." in html
    assert load_lead(engine, other.id) is None
    assert addresses_of(engine, keep.id) == ["ana@client.test", "ana@home.test", "a.s@home.test"]
    for key in ("own", "theirs", "shared"):
        assert linked_lead_ids(engine, pair[key].id) == {keep.id}
    merged = load_lead(engine, keep.id)
    assert merged.email_count == 3
    assert naive(merged.first_contact_at) == naive(BASE_DATE)
    assert naive(merged.last_contact_at) == naive(BASE_DATE + timedelta(days=5))
    assert (merged.last_direction, merged.last_contact_user_id) == ("in", admin.id)
    # blanks are filled from the merged lead; the kept name stays
    assert (merged.name, merged.company_name, merged.phone, merged.owner_id) == (
        "Ana",
        "Home Co",
        "123",
        admin.id,
    )
    assert thread_subjects(html)[:1] == ["Other's"]
    assert listed_ids(page(admin_client, "/leads/?q=home")) == [keep.id]


def test_merging_finds_the_other_lead_by_a_tagged_form_of_its_address(engine, pair, admin_client):
    keep, other = pair["keep"], pair["other"]
    response = admin_client.post(f"/leads/{keep.id}/merge", data={"other": "Ana+Old@Home.test"})
    assert "Leads merged." in after_redirect(admin_client, response)
    assert load_lead(engine, other.id) is None


def test_merging_with_an_unknown_address_shows_an_error_and_changes_nothing(
    engine, pair, rep_client
):
    keep = pair["keep"]
    response = rep_client.post(f"/leads/{keep.id}/merge", data={"other": "ghost@nowhere.test"})
    html = after_redirect(rep_client, response)
    assert "No lead has the address ghost@nowhere.test." in html
    assert len(all_leads(engine)) == 2
    assert load_lead(engine, keep.id).email_count == 2


def test_merging_a_lead_with_itself_is_refused(engine, pair, rep_client):
    keep = pair["keep"]
    response = rep_client.post(f"/leads/{keep.id}/merge", data={"other": "ana@client.test"})
    assert "Choose two different leads." in after_redirect(rep_client, response)
    assert len(all_leads(engine)) == 2


def test_merging_needs_an_address_and_the_csrf_token(engine, pair, rep_client):
    keep = pair["keep"]
    rep_client.post(f"/leads/{keep.id}/merge", data={"other": ""})
    rep_client.post(f"/leads/{keep.id}/merge", data={"other": "ana@home.test"}, csrf=False)
    assert len(all_leads(engine)) == 2


# --- delete ------------------------------------------------------------------------------


def test_the_lead_page_asks_for_confirmation_before_deleting(engine, pair, rep_client):
    html = page(rep_client, f"/leads/{pair['keep'].id}")
    form = html.split(f'action="/leads/{pair["keep"].id}/delete"')[1].split("</form>")[0]
    assert 'method="post"' in html and "data-confirm=" in form


def test_deleting_a_lead_deletes_only_the_emails_no_other_lead_has(engine, pair, rep_client):
    keep, other = pair["keep"], pair["other"]
    response = rep_client.post(f"/leads/{keep.id}/delete")
    html = after_redirect(rep_client, response)

    assert response.headers["Location"].endswith("/leads/")
    assert "Lead deleted." in html
    assert load_lead(engine, keep.id) is None
    assert not email_exists(engine, pair["own"].id)
    assert email_exists(engine, pair["shared"].id) and email_exists(engine, pair["theirs"].id)
    assert linked_lead_ids(engine, pair["shared"].id) == {other.id}
    assert load_lead(engine, other.id).email_count == 2


def test_deleted_emails_leave_the_search_index(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        data.email(lead, rep=rep, body_text="abracadabra")
    assert listed_ids(page(rep_client, "/leads/?q=abracadabra")) == [lead.id]
    rep_client.post(f"/leads/{lead.id}/delete")
    with read_session(engine) as session:
        hits = email_text_ids(session, "abracadabra")
    assert hits == []


def test_delete_without_the_csrf_token_deletes_nothing(engine, pair, rep_client):
    rep_client.post(f"/leads/{pair['keep'].id}/delete", csrf=False)
    assert load_lead(engine, pair["keep"].id) is not None


def test_deleting_updates_the_other_leads_summary(engine, pair, rep_client):
    """The shared email stays with the other lead, whose summary must not change."""
    before = load_lead(engine, pair["other"].id)
    rep_client.post(f"/leads/{pair['keep'].id}/delete")
    after = load_lead(engine, pair["other"].id)
    assert (after.email_count, after.last_contact_at) == (
        before.email_count,
        before.last_contact_at,
    )


# --- review queue ------------------------------------------------------------------------


@pytest.fixture
def suggestions(engine, rep):  # type: ignore[no-untyped-def]
    """Two suggested leads (policy "suggest") with the emails that brought them."""
    with lead_data(engine) as data:
        first = data.lead(name="Prospect One", addresses=["p1@prospect.test"], source="sync",
                          state="suggested", owner=rep)  # fmt: skip
        second = data.lead(name="Prospect Two", addresses=["p2@prospect.test"], source="sync",
                           state="suggested")  # fmt: skip
        one = data.email(first, rep=rep, direction="out", subject="Intro to One")
        two = data.email(second, rep=rep, direction="out", subject="Intro to Two")
        active = data.lead(name="Already Active")
    return {"first": first, "second": second, "one": one, "two": two, "active": active}


def test_review_queue_lists_suggestions_with_their_emails(suggestions, rep_client):
    html = page(rep_client, "/leads/review")
    for key, subject in (("first", "Intro to One"), ("second", "Intro to Two")):
        section = html.split(f'id="suggestion-{suggestions[key].id}"')[1].split("</section>")[0]
        assert subject in section
    assert "Prospect One" in html and "p1@prospect.test" in html
    assert "Already Active" not in html
    assert "Review suggestions 2" in text_of(page(rep_client, "/leads/"))


def test_review_queue_query_count_does_not_grow_with_the_suggestions(engine, rep, rep_client):
    def add_suggestions(count: int) -> None:
        with lead_data(engine) as data:
            for _ in range(count):
                lead = data.lead(source="sync", state="suggested", owner=rep)
                data.thread(lead, rep=rep, messages=2)

    add_suggestions(2)
    page(rep_client, "/leads/review")
    with counted_queries(engine) as few:
        page(rep_client, "/leads/review")
    add_suggestions(18)
    with counted_queries(engine) as many:
        html = page(rep_client, "/leads/review")
    assert html.count('class="card suggestion"') == 20
    assert len(many) == len(few), f"{len(few)} queries for 2 suggestions, {len(many)} for 20"


def test_accepting_a_suggestion_makes_it_an_active_lead(engine, suggestions, rep, rep_client):
    second = suggestions["second"]
    response = rep_client.post(f"/leads/{second.id}/accept")
    assert response.status_code == 302 and response.headers["Location"].endswith("/leads/review")
    accepted = load_lead(engine, second.id)
    assert (accepted.state, accepted.owner_id) == ("active", rep.id)  # the reviewer owns it
    assert second.id in listed_ids(page(rep_client, "/leads/"))
    assert f'id="suggestion-{second.id}"' not in page(rep_client, "/leads/review")


def test_accepting_keeps_an_existing_owner(engine, suggestions, admin, app):
    from tests.support.clients import log_in

    client = log_in(app.test_client(), admin.email)
    client.post(f"/leads/{suggestions['first'].id}/accept")
    assert load_lead(engine, suggestions["first"].id).owner_id == suggestions["first"].owner_id


def test_accepting_in_one_htmx_click_redirects_back_to_the_queue(engine, suggestions, rep_client):
    response = rep_client.post(f"/leads/{suggestions['first'].id}/accept", headers=HTMX)
    assert response.headers["HX-Redirect"] == "/leads/review"


def test_dismissing_deletes_the_suggestion_and_remembers_its_address(
    engine, suggestions, rep, rep_client
):
    first = suggestions["first"]
    response = rep_client.post(f"/leads/{first.id}/dismiss")
    assert response.status_code == 302
    assert load_lead(engine, first.id) is None
    assert not email_exists(engine, suggestions["one"].id)
    with read_session(engine) as session:
        dismissed = session.execute(
            select(DismissedAddress.address, DismissedAddress.user_id)
        ).all()
    assert dismissed == [("p1@prospect.test", rep.id)]
    assert "Prospect One" not in page(rep_client, "/leads/review")


def test_accept_or_dismiss_only_applies_to_suggestions(engine, suggestions, rep_client):
    active = suggestions["active"]
    assert rep_client.post(f"/leads/{active.id}/accept").status_code == 400
    assert rep_client.post(f"/leads/{active.id}/dismiss").status_code == 400
    assert (
        rep_client.post(f"/leads/{suggestions['first'].id}/dismiss", csrf=False).status_code == 400
    )
    assert load_lead(engine, active.id).state == "active"
    assert load_lead(engine, suggestions["first"].id) is not None


ACME = CompanyIdentity.build(["acme.test"], ["rep@acme.test"])


def suggest_policy(dismissed: frozenset[str]) -> SyncPolicy:
    """The "suggest" policy of a company that dismissed some addresses."""
    return SyncPolicy(ACME, NeverLogList.build([]), auto_create="suggest", dismissed=dismissed)


@pytest.mark.parametrize(
    "message",
    [
        MessageFacts("rep@acme.test", ("p1@prospect.test",)),
        MessageFacts("p1@prospect.test", ("rep@acme.test",)),
        MessageFacts("rep@acme.test", ("P1+news@Prospect.test",)),
    ],
)
def test_a_dismissed_address_is_not_suggested_again(message):
    fresh = decide(message, ["rep@acme.test"], set(), suggest_policy(frozenset()))
    assert fresh.new_lead_addresses  # without the dismissal it would be suggested

    decision = decide(
        message, ["rep@acme.test"], set(), suggest_policy(frozenset({"p1@prospect.test"}))
    )
    assert decision.new_lead_addresses == ()
    assert (decision.store, decision.reason) == (False, "no_lead")  # kept for a later lead


def test_a_dismissed_address_still_links_to_a_lead_created_by_hand():
    decision = decide(
        MessageFacts("rep@acme.test", ("p1@prospect.test",)),
        ["rep@acme.test"],
        {"p1@prospect.test"},
        suggest_policy(frozenset({"p1@prospect.test"})),
    )
    assert decision.store and decision.lead_addresses == ("p1@prospect.test",)


def test_the_sync_round_reads_the_dismissed_addresses(engine, suggestions, rep_client):
    from dashboard.sync.runner import build_policy

    rep_client.post(f"/leads/{suggestions['first'].id}/dismiss")
    with read_session(engine) as session:
        company = session.scalars(select(Company)).first()
        policy = build_policy(session, company)
    assert "p1@prospect.test" in policy.dismissed


def test_adding_a_dismissed_address_by_hand_forgets_the_dismissal(engine, suggestions, rep_client):
    rep_client.post(f"/leads/{suggestions['first'].id}/dismiss")
    rep_client.post("/leads/new", data=lead_form(addresses="p1@prospect.test"))
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(DismissedAddress)) == 0


# --- who may use the lead pages ----------------------------------------------------------


def lead_urls(lead_id: int, key: str) -> list[str]:
    """Every GET page of the leads blueprint."""
    return [
        "/leads/",
        "/leads/?q=x&owner=me&status=reply&source=sync&sort=name",
        "/leads/new",
        "/leads/review",
        f"/leads/{lead_id}",
        f"/leads/{lead_id}/edit",
        f"/leads/{lead_id}/threads?page=0",
        f"/leads/{lead_id}/threads?key={key}",
    ]


def test_a_rep_can_use_every_lead_page(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        (email,) = data.thread(lead, rep=rep, messages=1)
    for url in lead_urls(lead.id, email.thread_key):
        assert rep_client.get(url).status_code == 200, url
    assert rep_client.post(f"/leads/{lead.id}/edit", data=lead_form()).status_code == 302
    assert (
        rep_client.post(f"/leads/{lead.id}/private", data={"key": email.thread_key}).status_code
        == 302
    )


def test_anonymous_visitors_are_sent_to_the_login_page(engine, admin, rep, client):
    with lead_data(engine) as data:
        lead = data.lead()
        (email,) = data.thread(lead, rep=rep, messages=1)
    for url in lead_urls(lead.id, email.thread_key):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    for url in (
        "/leads/new",
        f"/leads/{lead.id}/edit",
        f"/leads/{lead.id}/private",
        f"/leads/{lead.id}/delete",
        f"/leads/{lead.id}/merge",
        f"/leads/{lead.id}/accept",
        f"/leads/{lead.id}/dismiss",
    ):
        response = client.post(url, data={"key": email.thread_key, "other": "x@y.test"})
        assert response.status_code in (302, 401), url
        assert response.status_code == 401 or "/login" in response.headers["Location"], url
    assert load_lead(engine, lead.id) is not None
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Email)) == 1
