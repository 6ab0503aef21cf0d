"""The lead page (/leads/<id>): header, timeline of threads, paging, expanded threads, escaping."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dashboard.leads.timeline import THREADS_PER_PAGE
from tests.support.lead_data import BASE_DATE, ago, lead_data, set_company
from tests.support.leads import (
    ENGLISH,
    HTMX,
    counted_queries,
    page,
    shown,
    text_of,
    thread_keys,
    thread_subjects,
)

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


def body_route_registered(app) -> bool:  # type: ignore[no-untyped-def]
    """True once the sandboxed email body route is part of the app (issue 5, "Bodies")."""
    return "emails.body" in app.view_functions


def expand(client, lead_id: int, key: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """The expanded thread partial, as the HTMX click gets it."""
    return page(client, f"/leads/{lead_id}/threads", query_string={"key": key}, **kwargs)


def messages_of(html: str) -> list[str]:
    """The text of each message block of an expanded thread, in order."""
    blocks = re.split(r'<div class="message message-(?:in|out)"[^>]*>', html)[1:]
    return [text_of(block) for block in blocks]


# --- header ------------------------------------------------------------------------------


def test_header_shows_addresses_company_owner_badge_counts_and_contacts(
    engine, rep, teammate, rep_client
):
    first, last = ago(days=20), ago(days=6)
    with lead_data(engine) as data:
        lead = data.lead(
            name="Joana Prado",
            addresses=["joana@prado.test", "jp@home.test"],
            company="Prado Ltda",
            phone="+55 11 5555-0000",
            owner=rep,
        )
        data.email(lead, rep=rep, direction="in", date=first)
        data.email(lead, rep=rep, direction="in", date=ago(days=10))
        data.email(lead, rep=teammate, direction="out", date=last)

    html = page(rep_client, f"/leads/{lead.id}")
    header = text_of(html.split('class="card lead-header"')[1].split("</dl>")[0])

    assert "Joana Prado awaiting reply" in header
    assert "Email joana@prado.test, jp@home.test" in header
    assert "Company Prado Ltda" in header and "Phone +55 11 5555-0000" in header
    assert f"Owner {rep.name}" in header
    assert "Emails 3" in header
    assert f"First contact {shown(first)}" in header
    assert f"Last contact ↗ {shown(last)} · Tina Teammate" in header


def test_header_badges_an_unanswered_inbound_email(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(name="Waiting")
        data.email(lead, rep=rep, direction="in", date=ago(hours=1))
    header = text_of(page(rep_client, f"/leads/{lead.id}").split("</h1>")[0])
    assert "Waiting to answer" in header


def test_a_lead_without_emails_says_so_and_shows_no_contact_dates(engine, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(name="Fresh", owner=None)
    text = text_of(page(rep_client, f"/leads/{lead.id}"))
    assert "No emails with this lead yet." in text
    assert "Owner —" in text and "Emails 0" in text
    assert "First contact" not in text and "awaiting reply" not in text


def test_an_email_link_opens_its_thread_on_the_lead_page_and_nothing_else(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead, other = data.lead(name="Opened"), data.lead(name="Elsewhere")
        older = data.thread(lead, rep=rep, messages=2, subject="Antigo", start=ago(days=10))
        (newest,) = data.thread(lead, rep=rep, messages=1, subject="Novo", start=ago(hours=1))
        (foreign,) = data.thread(other, rep=rep, messages=1, subject="De outro lead")

    html = page(rep_client, f"/leads/{lead.id}?email={older[1].id}")
    assert [
        m.count('class="message message-') for m in html.split('<article class="thread')[1:]
    ] == [0, 2]
    assert f'id="email-{older[0].id}"' in html and f'id="email-{older[1].id}"' in html
    assert html.count('aria-expanded="true"') == 1 and f'id="email-{newest.id}"' not in html
    for ignored in (foreign.id, 999999, "x"):
        html = page(rep_client, f"/leads/{lead.id}?email={ignored}")
        assert 'class="message message-' not in html and 'aria-expanded="true"' not in html


def test_unknown_lead_is_404(rep_client):
    assert rep_client.get("/leads/999999").status_code == 404
    assert rep_client.get("/leads/999999/threads?page=0").status_code == 404
    assert rep_client.get("/leads/999999/edit").status_code == 404


# --- timeline ----------------------------------------------------------------------------


def test_threads_are_listed_newest_first_with_subject_participants_count_and_last_date(
    engine, rep, rep_client
):
    with lead_data(engine) as data:
        lead = data.lead(addresses=["ana@client.test"])
        old = data.thread(lead, rep=rep, messages=3, subject="Old thread", start=ago(days=30))
        new = data.thread(
            lead, rep=rep, messages=1, subject="New thread", start=ago(days=1),
            cc=["boss@client.test"],
        )  # fmt: skip
        # A thread that started first but got the latest reply comes first.
        revived = data.thread(
            lead,
            rep=rep,
            messages=2,
            subject="Revived",
            start=ago(days=60),
            step=timedelta(days=59.5),
        )

    html = page(rep_client, f"/leads/{lead.id}")
    assert thread_subjects(html) == ["Revived", "New thread", "Old thread"]
    heads = [text_of(h) for h in html.split('class="thread-head')[1:]]
    assert f"2 · {shown(revived[-1].date)}" in heads[0]
    assert f"1 · {shown(new[-1].date)}" in heads[1]
    assert f"3 · {shown(old[-1].date)}" in heads[2]
    assert f"ana@client.test, {rep.email}, boss@client.test" in heads[1]
    assert thread_keys(html) == [revived[0].thread_key, new[0].thread_key, old[0].thread_key]


def test_a_thread_without_subject_says_so(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        data.thread(lead, rep=rep, subject="")
    assert thread_subjects(page(rep_client, f"/leads/{lead.id}")) == ["(no subject)"]


def test_more_conversations_pages_through_every_thread_once(engine, rep, rep_client):
    total = THREADS_PER_PAGE * 2 + 5
    with lead_data(engine) as data:
        lead = data.lead()
        for i in range(total):
            data.thread(
                lead, rep=rep, messages=1, subject=f"T{i:03d}", start=BASE_DATE + timedelta(hours=i)
            )

    html = page(rep_client, f"/leads/{lead.id}")
    subjects = thread_subjects(html)
    assert len(subjects) == THREADS_PER_PAGE
    assert "More conversations" in html
    assert f'hx-get="/leads/{lead.id}/threads?page=1"' in html

    for number in (1, 2):
        more = page(rep_client, f"/leads/{lead.id}/threads?page={number}", headers=HTMX)
        assert "<html" not in more
        subjects += thread_subjects(more)
    assert "More conversations" not in more and "threads?page=3" not in more

    assert subjects == [f"T{i:03d}" for i in reversed(range(total))]


def test_more_conversations_with_equal_last_dates_shows_every_thread_once(engine, rep, rep_client):
    total = THREADS_PER_PAGE + 10
    with lead_data(engine) as data:
        lead = data.lead()
        for i in range(total):  # a bulk import: every thread ends at the same second
            data.thread(lead, rep=rep, messages=1, subject=f"Same {i:03d}", start=BASE_DATE)
    subjects = thread_subjects(page(rep_client, f"/leads/{lead.id}"))
    subjects += thread_subjects(page(rep_client, f"/leads/{lead.id}/threads?page=1"))
    assert sorted(subjects) == [f"Same {i:03d}" for i in range(total)]


def test_thread_page_beyond_the_end_is_empty_and_negative_pages_start_at_zero(
    engine, rep, rep_client
):
    with lead_data(engine) as data:
        lead = data.lead()
        data.thread(lead, rep=rep, subject="Only")
    assert thread_subjects(page(rep_client, f"/leads/{lead.id}/threads?page=7")) == []
    assert thread_subjects(page(rep_client, f"/leads/{lead.id}/threads?page=-3")) == ["Only"]
    assert page(rep_client, f"/leads/{lead.id}/threads?page=abc").count("thread-head") == 1


def test_expanding_a_thread_shows_each_message_with_direction_rep_date_people_and_body(
    app, engine, rep, teammate, rep_client
):
    with lead_data(engine) as data:
        lead = data.lead(addresses=["ana@client.test"])
        people = {"subject": "Preços", "thread_key": "prices", "cc": ["boss@client.test"]}
        question = data.email(
            lead, rep=rep, direction="in", date=ago(days=3), from_name="Ana Cliente",
            body_text="Quanto custa?", **people,
        )  # fmt: skip
        answer = data.email(
            lead, rep=teammate, direction="out", date=ago(days=2), body_text="R$ 10.", **people
        )

    html = expand(rep_client, lead.id, question.thread_key, headers=HTMX)
    assert "<html" not in html
    first, second = messages_of(html)

    assert first.startswith(f"Received · {shown(question.date, 'message')} · {rep.name}")
    assert "From Ana Cliente <ana@client.test>" in first
    assert f"To {rep.email}" in first and "Cc boss@client.test" in first
    assert "Subject Preços" in first
    assert second.startswith(f"Sent · {shown(answer.date, 'message')} · Tina Teammate")
    assert f"<{teammate.email}>" in second and "To ana@client.test" in second

    if body_route_registered(app):
        assert f'src="/emails/{question.id}/body"' in html
        assert f'src="/emails/{answer.id}/body"' in html
    else:  # plain-text fallback until the sandboxed body route is registered
        bodies = re.findall(r'<pre class="plain-body">(.*?)</pre>', html, re.S)
        assert bodies == ["Quanto custa?", "R$ 10."]


def test_an_expanded_thread_lists_only_this_leads_emails_oldest_first(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead, other = data.lead(), data.lead()
        key = "shared-thread"
        data.email(lead, rep=rep, thread_key=key, subject="Late", date=ago(days=1))
        data.email(lead, rep=rep, thread_key=key, subject="Early", date=ago(days=2))
        data.email(other, rep=rep, thread_key=key, subject="Other lead's", date=ago(hours=1))

    texts = messages_of(expand(rep_client, lead.id, key))
    assert [("Subject Early" in t, "Subject Late" in t) for t in texts] == [
        (True, False),
        (False, True),
    ]


def test_expanding_an_unknown_thread_is_404(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead, other = data.lead(), data.lead()
        (foreign,) = data.thread(other, rep=rep, messages=1)
    assert rep_client.get(f"/leads/{lead.id}/threads?key=nope").status_code == 404
    # a real thread of another lead is not reachable through this lead
    assert rep_client.get(f"/leads/{lead.id}/threads?key={foreign.thread_key}").status_code == 404


def test_attachments_are_listed_with_name_size_and_type_linking_to_the_download(
    engine, rep, rep_client
):
    with lead_data(engine) as data:
        lead = data.lead()
        (email,) = data.thread(lead, rep=rep, messages=1)
        pdf = data.attachment(
            email, filename="proposta.pdf", content_type="application/pdf", size=2048
        )
        png = data.attachment(email, filename="logo.png", content_type="image/png", size=3_500_000)

    html = expand(rep_client, lead.id, email.thread_key)
    items = re.findall(r"<li>(.*?)</li>", html.split('<ul class="attachments">')[1], re.S)
    assert len(items) == 2
    assert f'href="/attachments/{pdf}"' in items[0] and f'href="/attachments/{png}"' in items[1]
    assert text_of(items[0]) == "proposta.pdf application/pdf · 2 kB"
    assert text_of(items[1]) == "logo.png image/png · 3.5 MB"


def test_subject_names_file_names_and_types_are_escaped_everywhere(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(name=SCRIPT, company=SCRIPT)
        (email,) = data.thread(
            lead,
            rep=rep,
            messages=1,
            subject=SCRIPT,
            from_name=SCRIPT,
            body_text=SCRIPT,
            cc=['"><script>alert(1)</script>@x.test'],
        )
        data.attachment(email, filename=SCRIPT + ".pdf", content_type=f"text/html{SCRIPT}")
        data.email(lead, rep=rep, thread_key='"><script>alert(1)</script>', subject="Key")

    for html in (
        page(rep_client, f"/leads/{lead.id}"),
        expand(rep_client, lead.id, email.thread_key),
        page(rep_client, f"/leads/{lead.id}/threads?page=0"),
    ):
        assert SCRIPT not in html and "<script>alert" not in html
        assert ESCAPED_SCRIPT in html

    expanded = expand(rep_client, lead.id, email.thread_key)
    assert f"{ESCAPED_SCRIPT}.pdf" in expanded  # file name
    assert f"text/html{ESCAPED_SCRIPT}" in expanded  # MIME type
    assert f"{ESCAPED_SCRIPT} &lt;" in expanded  # From name


def test_an_html_only_email_never_puts_its_markup_in_the_page(app, engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        (email,) = data.thread(
            lead, rep=rep, messages=1, body_text="", body_html='<b hx-get="/logout">x</b>'
        )
    html = expand(rep_client, lead.id, email.thread_key)
    assert 'hx-get="/logout"' not in html and "<b hx-get" not in html


def test_own_threads_offer_mark_private(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        (email,) = data.thread(lead, rep=rep, messages=1)
    html = expand(rep_client, lead.id, email.thread_key)
    assert f'action="/leads/{lead.id}/private"' in html and "Mark private" in html
    assert f'name="key" value="{email.thread_key}"' in html


# --- query count -------------------------------------------------------------------------


def add_threads(engine, lead, reps, count: int, messages: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    """Threads from several reps, each message with an attachment."""
    keys = []
    with lead_data(engine) as data:
        for i in range(count):
            emails = data.thread(
                lead,
                rep=reps[i % len(reps)],
                messages=messages,
                start=BASE_DATE + timedelta(days=i),
            )
            for email in emails:
                data.attachment(email)
            keys.append(emails[0].thread_key)
    return keys


def statements_for(engine, client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQL statements one request runs (after a warm-up request)."""
    page(client, url)
    with counted_queries(engine) as statements:
        page(client, url)
    return statements


@pytest.mark.parametrize("visibility", ["all", "subject", "metadata"])
def test_lead_page_query_count_does_not_grow_with_the_threads_shown(
    engine, rep, teammate, admin, rep_client, visibility
):
    set_company(engine, visibility=visibility)
    with lead_data(engine) as data:
        lead = data.lead(owner=teammate)
    reps = [rep, teammate, admin]
    add_threads(engine, lead, reps, 3)
    few = statements_for(engine, rep_client, f"/leads/{lead.id}")
    add_threads(engine, lead, reps, 57)
    html = page(rep_client, f"/leads/{lead.id}")
    many = statements_for(engine, rep_client, f"/leads/{lead.id}")

    assert html.count("thread-head") == THREADS_PER_PAGE
    assert few and len(many) == len(few), "\n".join(many)


@pytest.mark.parametrize("visibility", ["all", "subject", "metadata"])
def test_expanded_thread_query_count_does_not_grow_with_the_messages(
    engine, rep, teammate, admin, rep_client, visibility
):
    set_company(engine, visibility=visibility)
    with lead_data(engine) as data:
        lead = data.lead()
    reps = [rep, teammate, admin]
    (short,) = add_threads(engine, lead, reps, 1, messages=2)
    (long,) = add_threads(engine, lead, reps, 1, messages=40)
    few = statements_for(engine, rep_client, f"/leads/{lead.id}/threads?key={short}")
    url = f"/leads/{lead.id}/threads?key={long}"
    many = statements_for(engine, rep_client, url)

    assert page(rep_client, url).count('class="message message-') == 40
    assert few and len(many) == len(few), "\n".join(many)
