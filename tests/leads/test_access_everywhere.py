"""Every place that shows anything of an email agrees with the access rule: for each
combination of owner, "seen in the viewer's mailbox" and private mark, under each visibility,
for a rep and for an admin, the collapsed timeline, the expanded thread, the body route, its
frame, the attachment route, search (subject and body words), the compose reply prefill and
the review queue show exactly what `email_access` says. The SQL of search and of the
timeline is checked here against the pure function, case by case."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, update

from dashboard.leads.access import Access, Viewer, email_access
from dashboard.models import Email, Lead, PrivateThread, Sighting, User
from tests.support.clients import log_in
from tests.support.lead_data import lead_data, seq, set_company
from tests.support.leads import ENGLISH, HTMX, listed_ids, page, text_of, thread_subjects

OWNERS = ("viewer", "teammate", "nobody")
MARKS = ("unmarked", "by viewer", "by teammate")


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


@dataclass
class Case:
    """One email on a lead of its own, with the facts the rule reads."""

    owner: str
    seen: bool
    mark: str
    lead_id: int
    email: Email
    attachment: int
    n: int

    @property
    def subject_word(self) -> str:
        """A word only in this email's subject (the z keeps prefixes apart: 12z vs 123z)."""
        return f"subjword{self.n}z"

    @property
    def body_word(self) -> str:
        """A word only in this email's body."""
        return f"bodyword{self.n}z"


def build_cases(engine: Engine, viewer: User, teammate: User) -> list[Case]:
    """One email per combination of owner, seen and private mark, each on its own lead."""
    people = {"viewer": viewer, "teammate": teammate, "nobody": None}
    markers = {"unmarked": None, "by viewer": viewer, "by teammate": teammate}
    cases = []
    with lead_data(engine) as data:
        for owner, seen, mark in itertools.product(OWNERS, (False, True), MARKS):
            n = seq()
            lead = data.lead(name=f"Case {n}")
            email = data.email(
                lead, rep=people[owner], subject=f"subjword{n}z", body_text=f"bodyword{n}z",
                sighted=seen or owner != "viewer",
            )  # fmt: skip
            if seen and owner != "viewer":  # the viewer was in To or Cc
                data.session.add(Sighting(email_id=email.id, mailbox_id=data.mailbox(viewer),
                                          folder="INBOX", uidvalidity=1, uid=seq()))  # fmt: skip
            if markers[mark] is not None:
                data.session.add(PrivateThread(thread_key=email.thread_key,
                                               user_id=markers[mark].id))  # fmt: skip
            attachment = data.attachment(email, filename=f"file{n}.pdf")
            cases.append(Case(owner, seen, mark, lead.id, email, attachment, n))
    return cases


def expected(case: Case, viewer: User, teammate: User, visibility: str) -> Access:
    """What the pure rule says for this case."""
    ids = {"viewer": viewer.id, "teammate": teammate.id, "nobody": None}
    marks = {"unmarked": None, "by viewer": viewer.id, "by teammate": teammate.id}
    return email_access(
        Viewer(viewer.id, viewer.role, viewer.active),
        rep_id=ids[case.owner], seen=case.seen, private_by=marks[case.mark],
        visibility=visibility,
    )  # fmt: skip


def what_routes_show(client: FlaskClient, case: Case) -> dict[str, bool]:
    """What each place shows of the case's email, as booleans to compare with the rule."""
    email = case.email
    collapsed = page(client, f"/leads/{case.lead_id}")
    thread = page(client, f"/leads/{case.lead_id}/threads",
                  query_string={"key": email.thread_key}, headers=HTMX)  # fmt: skip
    body = client.get(f"/emails/{email.id}/body").status_code
    frame = client.get(f"/emails/{email.id}/frame", headers=HTMX).status_code
    download = client.get(f"/attachments/{case.attachment}").status_code
    assert body == frame and {body, download} <= {200, 403, 410}
    reply = page(client, f"/leads/{case.lead_id}/compose",
                 query_string={"reply": email.id}, headers=HTMX)  # fmt: skip
    return {
        "listed": len(thread_subjects(collapsed)) == 1,
        "subject collapsed": thread_subjects(collapsed) == [case.subject_word],
        "subject expanded": f"Subject {case.subject_word}" in text_of(thread),
        "frame in thread": f"/emails/{email.id}/body" in thread,
        "attachment listed": f'href="/attachments/{case.attachment}"' in thread,
        "body route": body == 200,
        "attachment route": download == 410,  # allowed: no mailbox with a password has it
        "reply prefill": case.subject_word in reply,
        "found by subject": finds(client, case, case.subject_word),
        "found by body": finds(client, case, case.body_word),
    }


def finds(client: FlaskClient, case: Case, word: str) -> bool:
    """Does searching the word list the case's lead?"""
    return case.lead_id in listed_ids(page(client, "/leads/", query_string={"q": word}))


def what_the_rule_allows(level: Access) -> dict[str, bool]:
    """The same places, as the rule's level says they should be."""
    return {
        "listed": level.listed,
        "subject collapsed": level.shows_subject,
        "subject expanded": level.shows_subject,
        "frame in thread": level.shows_body,
        "attachment listed": level.shows_body,
        "body route": level.shows_body,
        "attachment route": level.shows_body,
        "reply prefill": level.shows_body,
        "found by subject": "subject" in level.search_columns,
        "found by body": "body_text" in level.search_columns,
    }


def review_evidence(client: FlaskClient) -> dict[int, str]:
    """Each suggested lead's section of the review queue, as text."""
    html = page(client, "/leads/review")
    sections = re.split(r'<section class="card suggestion" id="suggestion-', html)[1:]
    return {int(s.split('"', 1)[0]): text_of(s) for s in sections}


@pytest.mark.parametrize("visibility", ["all", "subject", "metadata"])
@pytest.mark.parametrize("role", ["rep", "admin"])
def test_every_route_shows_what_the_rule_says(app, engine, rep, admin, teammate, visibility, role):
    viewer = rep if role == "rep" else admin
    cases = build_cases(engine, viewer, teammate)
    set_company(engine, visibility=visibility)
    client = log_in(app.test_client(), viewer.email)
    levels = {c.n: expected(c, viewer, teammate, visibility) for c in cases}
    assert {Access.FULL, Access.METADATA} <= set(levels.values())  # the cases tell levels apart

    for case in cases:
        shown = what_routes_show(client, case)
        assert shown == what_the_rule_allows(levels[case.n]), (case.owner, case.seen, case.mark)

    with lead_data(engine) as data:  # the same emails as evidence of suggested leads
        data.session.execute(
            update(Lead).where(Lead.id.in_([c.lead_id for c in cases])).values(state="suggested")
        )
    evidence = review_evidence(client)
    for case in cases:
        shows = case.subject_word in evidence[case.lead_id]
        assert shows is levels[case.n].shows_subject, (case.owner, case.seen, case.mark)
