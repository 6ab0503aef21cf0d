"""What a rep sees of teammates' mail: company visibility, private threads, and search leaks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import PrivateThread, Sighting
from tests.support.clients import log_in
from tests.support.lead_data import ago, lead_data, set_company
from tests.support.leads import ENGLISH, HTMX, listed_ids, page, text_of, thread_subjects

SUBJECT_WORD = "Zanzibar"  # only in the teammate's subject
BODY_WORD = "quetzalcoatl"  # only in the teammate's body
METADATA_HINT = "Only teammates involved can read this email."


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


@pytest.fixture
def teammate_client(app, teammate):  # type: ignore[no-untyped-def]
    """The teammate, logged in."""
    return log_in(app.test_client(), teammate.email)


@pytest.fixture
def story(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """A lead with a thread from the teammate's mailbox (and one from the rep's own)."""
    with lead_data(engine) as data:
        lead = data.lead(name="Shared Lead", addresses=["buyer@client.test"], owner=teammate)
        theirs = data.thread(
            lead,
            rep=teammate,
            messages=2,
            subject=f"Contract {SUBJECT_WORD}",
            body_text=f"The secret price is {BODY_WORD}.",
            start=ago(days=3),
            cc=["cfo@client.test"],
        )
        mine = data.thread(
            lead, rep=rep, messages=1, subject="My own hello", body_text="hello", start=ago(days=9)
        )
        attachment = data.attachment(theirs[0], filename="price-list.pdf")
    return {"lead": lead, "theirs": theirs, "mine": mine, "key": theirs[0].thread_key,
            "attachment": attachment}  # fmt: skip


def lead_page(client, story) -> str:  # type: ignore[no-untyped-def]
    """The lead page HTML."""
    return page(client, f"/leads/{story['lead'].id}")


def expanded(client, story, key: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """The teammate's thread expanded."""
    url = f"/leads/{story['lead'].id}/threads"
    return page(client, url, query_string={"key": key or story["key"]}, headers=HTMX)


def finds(client, story, q: str) -> bool:  # type: ignore[no-untyped-def]
    """Does searching `q` list the story's lead (full page and HTMX partial agree)?"""
    full = story["lead"].id in listed_ids(page(client, "/leads/", query_string={"q": q}))
    partial = story["lead"].id in listed_ids(
        page(client, "/leads/", query_string={"q": q}, headers=HTMX)
    )
    assert full == partial
    return full


def toggle_private(client, story, key: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """POST the private toggle for a thread."""
    return client.post(
        f"/leads/{story['lead'].id}/private", data={"key": key or story["key"]}, **kwargs
    )


def private_rows(engine) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """(thread_key, user_id) of every private thread."""
    with read_session(engine) as session:
        return list(session.execute(select(PrivateThread.thread_key, PrivateThread.user_id)))


def shows_body(html: str, email_id: int) -> bool:
    """True when the expanded thread shows this email's body (iframe or plain-text fallback)."""
    return f"/emails/{email_id}/body" in html or BODY_WORD in html


# --- company visibility ------------------------------------------------------------------


def test_visibility_all_shows_teammates_mail_fully(engine, story, rep_client):
    set_company(engine, visibility="all")
    html = lead_page(rep_client, story)
    assert thread_subjects(html)[0] == f"Contract {SUBJECT_WORD}"
    assert "cfo@client.test" in html

    thread = expanded(rep_client, story)
    assert f"Subject Contract {SUBJECT_WORD}" in text_of(thread)
    assert "cfo@client.test" in thread and "buyer@client.test" in thread
    assert all(shows_body(thread, e.id) for e in story["theirs"])
    assert METADATA_HINT not in thread and "price-list.pdf" in thread


def test_visibility_subject_shows_subject_and_people_but_no_body(engine, story, rep_client):
    set_company(engine, visibility="subject")
    html = lead_page(rep_client, story)
    assert thread_subjects(html)[0] == f"Contract {SUBJECT_WORD}"
    assert "cfo@client.test" in html

    thread = expanded(rep_client, story)
    assert f"Subject Contract {SUBJECT_WORD}" in text_of(thread)
    assert not any(shows_body(thread, e.id) for e in story["theirs"])
    assert BODY_WORD not in thread and "price-list.pdf" not in thread
    assert text_of(thread).count(METADATA_HINT) == 2


def test_visibility_metadata_shows_only_date_direction_and_rep(engine, story, rep_client):
    set_company(engine, visibility="metadata")
    html = lead_page(rep_client, story)
    assert thread_subjects(html) == ["Conversation", "My own hello"]
    assert SUBJECT_WORD not in html and "cfo@client.test" not in html

    thread = expanded(rep_client, story)
    text = text_of(thread)
    assert SUBJECT_WORD not in thread and BODY_WORD not in thread
    assert "cfo@client.test" not in thread and "buyer@client.test" not in thread
    assert "price-list.pdf" not in thread
    assert "Received ·" in text and "Sent ·" in text and "Tina Teammate" in text
    assert text.count(METADATA_HINT) == 2


@pytest.mark.parametrize("visibility", ["all", "subject", "metadata"])
def test_own_mail_is_always_shown_in_full(engine, story, rep, rep_client, visibility):
    set_company(engine, visibility=visibility)
    (mine,) = story["mine"]
    assert "My own hello" in thread_subjects(lead_page(rep_client, story))
    thread = expanded(rep_client, story, mine.thread_key)
    assert "Subject My own hello" in text_of(thread) and METADATA_HINT not in thread


def test_mail_also_seen_in_the_viewers_mailbox_counts_as_their_own(engine, story, rep, rep_client):
    set_company(engine, visibility="metadata")
    with lead_data(engine) as data:  # the rep was in Cc: the same email sits in their mailbox
        data.session.add(
            Sighting(
                email_id=story["theirs"][0].id,
                mailbox_id=data.mailbox(rep),
                folder="INBOX",
                uidvalidity=1,
                uid=900_001,
            )
        )
    thread = expanded(rep_client, story)
    assert f"Subject Contract {SUBJECT_WORD}" in text_of(thread)
    assert text_of(thread).count(METADATA_HINT) == 1  # the second email is still the teammate's
    assert finds(rep_client, story, BODY_WORD)


# --- search under each visibility --------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "subject_found", "body_found"),
    [("all", True, True), ("subject", True, False), ("metadata", False, False)],
)
def test_search_sees_teammates_mail_only_as_far_as_visibility_allows(
    engine, story, rep_client, teammate_client, visibility, subject_found, body_found
):
    set_company(engine, visibility=visibility)
    assert finds(rep_client, story, SUBJECT_WORD.lower()) is subject_found
    assert finds(rep_client, story, BODY_WORD) is body_found
    assert finds(rep_client, story, f"contract {BODY_WORD}") is body_found
    # the teammate always finds their own mail
    assert finds(teammate_client, story, SUBJECT_WORD) and finds(teammate_client, story, BODY_WORD)


@pytest.mark.parametrize("visibility", ["all", "subject", "metadata"])
def test_search_always_finds_words_of_ones_own_mail(engine, story, rep_client, visibility):
    set_company(engine, visibility=visibility)
    assert finds(rep_client, story, "hello")


# --- private threads ---------------------------------------------------------------------


def test_a_rep_marks_their_thread_private_and_the_teammate_sees_metadata_only(
    engine, story, rep_client, teammate_client, teammate
):
    set_company(engine, visibility="all")
    assert finds(rep_client, story, SUBJECT_WORD) and finds(rep_client, story, BODY_WORD)

    response = toggle_private(teammate_client, story)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/leads/{story['lead'].id}")
    assert private_rows(engine) == [(story["key"], teammate.id)]

    html = lead_page(rep_client, story)
    assert thread_subjects(html) == ["Private conversation", "My own hello"]
    assert SUBJECT_WORD not in html and "cfo@client.test" not in html
    assert "🔒" in html

    thread = expanded(rep_client, story)
    text = text_of(thread)
    assert SUBJECT_WORD not in thread and BODY_WORD not in thread
    assert "cfo@client.test" not in thread and "buyer@client.test" not in thread
    assert "price-list.pdf" not in thread and "Mark private" not in thread
    assert "Make public" not in thread
    assert text.count(METADATA_HINT) == 2 and "Tina Teammate" in text

    assert not finds(rep_client, story, SUBJECT_WORD)
    assert not finds(rep_client, story, BODY_WORD)
    assert not finds(rep_client, story, f"contract {SUBJECT_WORD}")

    # the owner still sees and finds everything, and may make it public again
    own = expanded(teammate_client, story)
    assert SUBJECT_WORD in own and "Make public" in own
    assert finds(teammate_client, story, SUBJECT_WORD) and finds(teammate_client, story, BODY_WORD)


def test_making_the_thread_public_again_restores_the_company_visibility(
    engine, story, rep_client, teammate_client
):
    set_company(engine, visibility="all")
    assert toggle_private(teammate_client, story).status_code == 302
    assert toggle_private(teammate_client, story).status_code == 302
    assert private_rows(engine) == []
    assert thread_subjects(lead_page(rep_client, story))[0] == f"Contract {SUBJECT_WORD}"
    assert finds(rep_client, story, BODY_WORD)


def test_a_private_thread_stays_hidden_under_every_visibility(
    engine, story, rep_client, teammate_client
):
    toggle_private(teammate_client, story)
    for visibility in ("all", "subject", "metadata"):
        set_company(engine, visibility=visibility)
        assert SUBJECT_WORD not in lead_page(rep_client, story)
        assert SUBJECT_WORD not in expanded(rep_client, story)
        assert not finds(rep_client, story, SUBJECT_WORD)


def test_a_teammate_cannot_mark_someone_elses_thread_private(engine, story, rep_client):
    set_company(engine, visibility="all")  # even when they can read it all
    assert toggle_private(rep_client, story).status_code == 403
    assert private_rows(engine) == []
    assert "Mark private" not in expanded(rep_client, story)


def test_a_teammate_cannot_make_someone_elses_private_thread_public(
    engine, story, rep_client, teammate_client, teammate
):
    toggle_private(teammate_client, story)
    assert toggle_private(rep_client, story).status_code == 403
    assert private_rows(engine) == [(story["key"], teammate.id)]


def test_a_rep_in_the_thread_still_cannot_unmark_the_owners_private_mark(
    engine, story, rep, rep_client, teammate_client, teammate
):
    toggle_private(teammate_client, story)
    with lead_data(engine) as data:  # the rep answers in the same thread from their mailbox
        data.email(story["lead"], rep=rep, direction="out", thread_key=story["key"], subject="Re")
    assert toggle_private(rep_client, story).status_code == 403
    assert private_rows(engine) == [(story["key"], teammate.id)]
    thread = expanded(rep_client, story)
    assert "Subject Re" in text_of(thread) and SUBJECT_WORD not in thread


def test_marking_private_needs_a_key_a_known_thread_and_the_csrf_token(
    engine, story, teammate_client
):
    lead_id = story["lead"].id
    assert teammate_client.post(f"/leads/{lead_id}/private", data={}).status_code == 400
    assert toggle_private(teammate_client, story, key="no-such-thread").status_code in (403, 404)
    assert toggle_private(teammate_client, story, csrf=False).status_code == 400
    assert private_rows(engine) == []


def test_private_attachments_are_not_downloadable_by_teammates(
    engine, story, rep_client, teammate_client
):
    set_company(engine, visibility="all")
    toggle_private(teammate_client, story)
    assert rep_client.get(f"/attachments/{story['attachment']}").status_code == 403


@pytest.mark.parametrize("visibility", ["subject", "metadata"])
def test_attachments_of_hidden_bodies_are_not_downloadable(engine, story, rep_client, visibility):
    set_company(engine, visibility=visibility)
    assert rep_client.get(f"/attachments/{story['attachment']}").status_code == 403


def test_private_bodies_are_refused_by_the_body_route(
    app, engine, story, rep_client, teammate_client
):
    if "emails.body" not in app.view_functions:
        pytest.skip("the sandboxed body route (email_body blueprint) is not registered yet")
    set_company(engine, visibility="all")
    email_id = story["theirs"][0].id
    assert rep_client.get(f"/emails/{email_id}/body").status_code == 200
    toggle_private(teammate_client, story)
    assert rep_client.get(f"/emails/{email_id}/body").status_code == 403
    assert teammate_client.get(f"/emails/{email_id}/body").status_code == 200


def test_own_reply_in_a_teammates_private_thread_is_readable_in_the_timeline_and_routes(
    engine, story, rep, rep_client, teammate_client
):
    """The rep wrote it: the timeline's body frame, the body route, the frame and the
    attachment agree (the body route and attachment used to answer 403)."""
    set_company(engine, visibility="metadata")
    toggle_private(teammate_client, story)
    with lead_data(engine) as data:  # the rep answers inside the teammate's private thread
        reply = data.email(
            story["lead"], rep=rep, direction="out", thread_key=story["key"],
            subject="Re: my offer", body_text="My own words.",
        )  # fmt: skip
        quote = data.attachment(reply, filename="my-quote.pdf")

    thread = expanded(rep_client, story)
    assert f"/emails/{reply.id}/body" in thread and f'href="/attachments/{quote}"' in thread
    assert rep_client.get(f"/emails/{reply.id}/body").status_code == 200
    assert rep_client.get(f"/emails/{reply.id}/frame", headers=HTMX).status_code == 200
    # allowed: no mailbox with a password holds the message here, so the bytes are "gone"
    assert rep_client.get(f"/attachments/{quote}").status_code == 410

    # the teammate's own messages of that thread stay hidden from the rep, in every place
    assert not any(shows_body(thread, e.id) for e in story["theirs"])
    assert all(rep_client.get(f"/emails/{e.id}/body").status_code == 403 for e in story["theirs"])
    assert rep_client.get(f"/attachments/{story['attachment']}").status_code == 403


def test_the_marker_of_a_private_thread_reads_teammates_mail_in_it_only_as_visibility_allows(
    engine, story, rep, rep_client, teammate, teammate_client
):
    """Marking hides a thread from others and reveals nothing to the marker: the body route
    used to serve the teammate's body to whoever marked the thread, whatever the visibility."""
    set_company(engine, visibility="metadata")
    with lead_data(engine) as data:  # the rep replied in the thread, then marks it private
        data.email(story["lead"], rep=rep, direction="out", thread_key=story["key"])
    assert toggle_private(rep_client, story).status_code == 302
    assert private_rows(engine) == [(story["key"], rep.id)]

    thread = expanded(rep_client, story)
    assert not any(shows_body(thread, e.id) for e in story["theirs"])
    assert rep_client.get(f"/emails/{story['theirs'][0].id}/body").status_code == 403
    assert rep_client.get(f"/attachments/{story['attachment']}").status_code == 403
    assert teammate_client.get(f"/emails/{story['theirs'][0].id}/body").status_code == 200


def test_review_queue_evidence_respects_private_threads(
    engine, rep, teammate, rep_client, teammate_client
):
    with lead_data(engine) as data:
        lead = data.lead(name="Maybe", state="suggested", source="sync")
        (email,) = data.thread(lead, rep=teammate, messages=1, subject=f"Hello {SUBJECT_WORD}")
    assert SUBJECT_WORD in page(rep_client, "/leads/review")
    teammate_client.post(f"/leads/{lead.id}/private", data={"key": email.thread_key})
    html = page(rep_client, "/leads/review")
    assert SUBJECT_WORD not in html and "Maybe" in html
