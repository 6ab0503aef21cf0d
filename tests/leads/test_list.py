"""The lead list (/leads): columns, badges, search, filters, sorts, keyset pages, HTMX, queries."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.leads.queries import PAGE_SIZE
from tests.support import factories
from tests.support.clients import log_in
from tests.support.lead_data import BASE_DATE, ago, lead_data, set_company
from tests.support.leads import (
    ENGLISH,
    HTMX,
    counted_queries,
    listed_ids,
    next_link,
    page,
    shown,
    table_rows,
)


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


def search(client, q: str, **params: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Lead ids the list shows for a query."""
    return listed_ids(page(client, "/leads/", query_string={"q": q, **params}))


# --- columns and badges ------------------------------------------------------------------


def test_each_row_shows_name_addresses_company_owner_last_contact_count_and_badge(
    engine, rep, teammate, rep_client
):
    last = BASE_DATE + timedelta(days=2)
    with lead_data(engine) as data:
        lead = data.lead(
            name="Joana Prado",
            addresses=["joana@prado.test", "jp@home.test"],
            company="Prado & Filhos",
            owner=rep,
        )
        data.email(lead, rep=rep, direction="out", date=BASE_DATE)
        data.email(lead, rep=teammate, direction="in", date=BASE_DATE + timedelta(days=1))
        data.email(lead, rep=teammate, direction="in", date=last)

    (row,) = table_rows(page(rep_client, "/leads/"))

    assert row["id"] == lead.id
    name, addresses, company, owner, contact, count, badge = row["cells"]
    assert (name, addresses, company, owner) == (
        "Joana Prado",
        "joana@prado.test, jp@home.test",
        "Prado & Filhos",
        rep.name,
    )
    assert contact == f"↙ {shown(last)} · Tina Teammate"
    assert (count, badge) == ("3", "to answer")


def test_last_contact_shows_an_outgoing_arrow_and_the_rep_who_wrote(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead(owner=rep)
        data.email(lead, rep=rep, direction="in", date=ago(days=2))
        sent = data.email(lead, rep=rep, direction="out", date=ago(hours=1))

    (row,) = table_rows(page(rep_client, "/leads/"))
    assert row["cells"][4] == f"↗ {shown(sent.date)} · {rep.name}"
    assert row["cells"][6] == ""  # our answer is only an hour old


def test_a_lead_without_emails_shows_a_dash_and_no_badge(engine, rep, rep_client):
    with lead_data(engine) as data:
        data.lead(name="Quiet")
    (row,) = table_rows(page(rep_client, "/leads/"))
    assert row["cells"][4:] == ["—", "0", ""]


def test_unanswered_inbound_last_email_is_badged_to_answer(engine, rep, rep_client):
    with lead_data(engine) as data:
        lead = data.lead()
        data.email(lead, rep=rep, direction="out", date=ago(days=10))
        data.email(lead, rep=rep, direction="in", date=ago(hours=2))
    (row,) = table_rows(page(rep_client, "/leads/"))
    assert row["cells"][6] == "to answer"


@pytest.mark.parametrize(
    ("stale_days", "days_since_our_email", "badge"),
    [
        (3, 4, "awaiting reply"),
        (3, 2, ""),
        (3, 3.1, "awaiting reply"),
        (3, 2.9, ""),
        (7, 4, ""),
        (7, 8, "awaiting reply"),
        (1, 1.5, "awaiting reply"),
    ],
)
def test_our_unanswered_email_is_badged_awaiting_reply_after_the_company_stale_days(
    engine, rep, rep_client, stale_days, days_since_our_email, badge
):
    set_company(engine, stale_days=stale_days)
    with lead_data(engine) as data:
        lead = data.lead()
        data.email(lead, rep=rep, direction="in", date=ago(days=30))
        data.email(lead, rep=rep, direction="out", date=ago(days=days_since_our_email))
    (row,) = table_rows(page(rep_client, "/leads/"))
    assert row["cells"][6] == badge


def test_stale_days_defaults_to_three(engine, rep, rep_client):
    with lead_data(engine) as data:
        old, fresh = data.lead(name="Old"), data.lead(name="Fresh")
        data.email(old, rep=rep, direction="out", date=ago(days=3, hours=1))
        data.email(fresh, rep=rep, direction="out", date=ago(days=2, hours=23))
    badges = {row["cells"][0]: row["cells"][6] for row in table_rows(page(rep_client, "/leads/"))}
    assert badges == {"Old": "awaiting reply", "Fresh": ""}


def test_names_and_companies_are_escaped_in_the_list(engine, rep_client):
    with lead_data(engine) as data:
        data.lead(name="<script>alert(1)</script>", company="<img src=x onerror=alert(2)>")
    html = page(rep_client, "/leads/")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


# --- search ------------------------------------------------------------------------------


@pytest.fixture
def searchable(engine, rep):  # type: ignore[no-untyped-def]
    """Leads found by different fields; each query below names the ones it must find."""
    with lead_data(engine) as data:
        leads = {
            "name": data.lead(name="Joana Prado", addresses=["jp@alpha.test"]),
            "accented_name": data.lead(name="João Brandão", addresses=["jb@beta.test"]),
            "address": data.lead(name="Carlos", addresses=["carlos.mendes@gamma.test"]),
            "company": data.lead(name="Rita", company="Padaria São Jorge"),
            "accented_body": data.lead(name="Bia"),
            "plain_subject": data.lead(name="Duda"),
            "noise": data.lead(name="Zeca", company="Nada"),
        }
        data.email(
            leads["accented_body"],
            rep=rep,
            subject="Retorno",
            body_text="A sincronização da proposta anual falhou ontem.",
        )
        data.email(
            leads["plain_subject"], rep=rep, subject="Problema de sincronizacao", body_text="Oi."
        )
        data.email(leads["noise"], rep=rep, subject="Almoço", body_text="Até amanhã.")
    return leads


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Joana", {"name"}),
        ("joa", {"name", "accented_name"}),  # folded: "João" starts with "joa" too
        ("joao", {"accented_name"}),
        ("JOÃO BRANDÃO", {"accented_name"}),
        ("brandao", {"accented_name"}),
        ("carlos.mendes@gam", {"address"}),
        ("mendes", {"address"}),
        ("gamma.test", {"address"}),
        ("padaria", {"company"}),
        ("Padaria Sao Jorge", {"company"}),
        ("são jorge", {"company"}),
        ("sincronizacao", {"accented_body", "plain_subject"}),
        ("Sincronização", {"accented_body", "plain_subject"}),
        ("SINCRONIZAÇÃO", {"accented_body", "plain_subject"}),
        ("sincro", {"accented_body", "plain_subject"}),  # prefix
        ("proposta anual", {"accented_body"}),  # every word, anywhere in the email
        ("anual proposta", {"accented_body"}),
        ("propo anu", {"accented_body"}),  # every word as a prefix
        ("proposta inexistente", set()),
        ("problema", {"plain_subject"}),  # subject
        ("retorno", {"accented_body"}),
        ("almoco", {"noise"}),
        ("ate amanha", {"noise"}),
        ("ncronizacao", set()),  # email text matches word prefixes, not the middle of words
        ("xyzzy", set()),
    ],
)
def test_search_covers_name_address_company_and_email_text_with_accents_folded(
    searchable, rep_client, q, expected
):
    ids = search(rep_client, q)
    assert sorted(ids) == sorted(searchable[key].id for key in expected), q


def test_search_works_as_the_user_types_each_prefix(searchable, rep_client):
    for q in ("sin", "sinc", "sincronizaç", "sincronização"):
        assert searchable["accented_body"].id in search(rep_client, q), q


def test_email_text_is_searched_from_the_third_letter_only(searchable, rep_client):
    """One or two letters match most emails (~1 s at 300,000): only names and addresses."""
    for q in ("s", "si", "SI", "r", "re"):  # "sincronização", "Retorno": email words only
        assert searchable["accented_body"].id not in search(rep_client, q), q
    assert searchable["accented_body"].id in search(rep_client, "ret")


def test_search_treats_like_wildcards_literally(engine, rep_client):
    with lead_data(engine) as data:
        underscore = data.lead(name="ana_maria", addresses=["am@delta.test"])
        data.lead(name="anaXmaria", addresses=["ax@delta.test"])
        data.lead(name="Other", addresses=["o@delta.test"])
    assert search(rep_client, "ana_maria") == [underscore.id]
    assert search(rep_client, "%") == []


FTS_SYNTAX = [
    '"',
    '"sincronizacao',
    'sincronizacao"',
    '""',
    "(",
    ")",
    "(sincronizacao",
    "sincronizacao)",
    "((()))",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(a b)",
    "sincronizacao AND",
    "AND sincronizacao",
    "sincronizacao OR proposta",
    "sincronizacao NOT proposta",
    "*",
    "sincro*",
    "*sincro",
    "-",
    "-sincronizacao",
    "sincronizacao -proposta",
    ":",
    "subject:",
    "subject:sincronizacao",
    "body_text : sincronizacao",
    "{subject body_text}: x",
    "^sincronizacao",
    "+",
    "'",
    "\\",
    "%",
    "_",
    "a" * 400,
    "x " * 50,
    "ﬁ ² ª ٣ 日本語",
    "\u200b",
    "\x00",
    "<script>",
    "';--",
]


@pytest.mark.parametrize("q", FTS_SYNTAX)
def test_fts_syntax_characters_in_the_query_never_break_the_search(searchable, rep_client, q):
    for headers in ({}, HTMX):
        response = rep_client.get("/leads/", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, (q, response.data[:300])


@pytest.mark.parametrize(
    "q",
    ['"sincronizacao"', "(sincronizacao)", "sincronizacao*", "-sincronizacao", "sincronizacao:"],
)
def test_words_wrapped_in_fts_syntax_are_still_found(searchable, rep_client, q):
    assert searchable["accented_body"].id in search(rep_client, q)


def test_search_combines_with_filters(engine, rep, teammate, rep_client):
    with lead_data(engine) as data:
        mine = data.lead(name="Ana Mine", owner=rep)
        theirs = data.lead(name="Ana Theirs", owner=teammate)
        data.email(mine, rep=rep, body_text="orçamento")
        data.email(theirs, rep=teammate, body_text="orçamento")
    assert sorted(search(rep_client, "orcamento")) == sorted([mine.id, theirs.id])
    assert search(rep_client, "orcamento", owner="me") == [mine.id]


# --- filters and sorts -------------------------------------------------------------------


@pytest.fixture
def assorted(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """Leads differing by owner, status and source."""
    with lead_data(engine) as data:
        leads = {
            "mine_reply": data.lead(name="A mine reply", owner=rep, source="sync"),
            "mine_awaiting": data.lead(name="B mine awaiting", owner=rep),
            "mine_recent_out": data.lead(name="C mine recent", owner=rep, source="sync"),
            "theirs_reply": data.lead(name="D theirs reply", owner=teammate),
            "theirs_awaiting": data.lead(name="E theirs awaiting", owner=teammate, source="sync"),
            "nobody_quiet": data.lead(name="F nobody quiet"),
            "suggested": data.lead(name="G suggested", source="sync", state="suggested"),
        }
        data.email(leads["mine_reply"], rep=rep, direction="in", date=ago(days=1))
        data.email(leads["mine_awaiting"], rep=rep, direction="out", date=ago(days=5))
        data.email(leads["mine_recent_out"], rep=rep, direction="out", date=ago(hours=3))
        data.email(leads["theirs_reply"], rep=teammate, direction="in", date=ago(days=9))
        data.email(leads["theirs_awaiting"], rep=teammate, direction="out", date=ago(days=20))
        data.email(leads["suggested"], rep=rep, direction="in", date=ago(days=1))
    return leads


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"mine_reply", "mine_awaiting", "mine_recent_out", "theirs_reply",
              "theirs_awaiting", "nobody_quiet"}),
        ({"owner": "me"}, {"mine_reply", "mine_awaiting", "mine_recent_out"}),
        ({"status": "reply"}, {"mine_reply", "theirs_reply"}),
        ({"status": "awaiting"}, {"mine_awaiting", "theirs_awaiting"}),
        ({"source": "sync"}, {"mine_reply", "mine_recent_out", "theirs_awaiting"}),
        ({"source": "manual"}, {"mine_awaiting", "theirs_reply", "nobody_quiet"}),
        ({"owner": "me", "status": "awaiting"}, {"mine_awaiting"}),
        ({"owner": "me", "source": "sync", "status": "reply"}, {"mine_reply"}),
        ({"owner": "me", "status": "awaiting", "source": "sync"}, set()),
        ({"owner": "", "status": "", "source": ""}, {"mine_reply", "mine_awaiting",
          "mine_recent_out", "theirs_reply", "theirs_awaiting", "nobody_quiet"}),
    ],
)  # fmt: skip
def test_filters_owner_status_and_source(assorted, rep_client, params, expected):
    ids = listed_ids(page(rep_client, "/leads/", query_string=params))
    assert sorted(ids) == sorted(assorted[key].id for key in expected)


def test_owner_me_means_the_viewer(assorted, app, teammate):
    client = log_in(app.test_client(), teammate.email)
    ids = listed_ids(page(client, "/leads/", query_string={"owner": "me"}))
    assert sorted(ids) == sorted([assorted["theirs_reply"].id, assorted["theirs_awaiting"].id])


def test_awaiting_filter_follows_the_company_stale_days(assorted, engine, rep_client):
    set_company(engine, stale_days=10)
    ids = listed_ids(page(rep_client, "/leads/", query_string={"status": "awaiting"}))
    assert ids == [assorted["theirs_awaiting"].id]


def test_suggested_leads_stay_out_of_the_list_and_out_of_search(assorted, rep_client):
    html = page(rep_client, "/leads/")
    assert assorted["suggested"].id not in listed_ids(html)
    assert search(rep_client, "suggested") == []
    assert "/leads/review" in html  # the review queue is offered instead


def test_sorts_by_last_contact_name_and_created(engine, rep, rep_client):
    with lead_data(engine) as data:
        b = data.lead(name="Bruno", created_at=BASE_DATE + timedelta(days=3))
        a = data.lead(name="ana", created_at=BASE_DATE + timedelta(days=1))
        c = data.lead(name="Célia", created_at=BASE_DATE + timedelta(days=2))
        never = data.lead(name="Zé", created_at=BASE_DATE)
        data.email(a, rep=rep, date=BASE_DATE + timedelta(days=9))
        data.email(b, rep=rep, date=BASE_DATE + timedelta(days=5))
        data.email(c, rep=rep, date=BASE_DATE + timedelta(days=7))

    def order(sort: str) -> list[int]:
        return listed_ids(page(rep_client, "/leads/", query_string={"sort": sort}))

    assert order("last_contact") == [a.id, c.id, b.id, never.id]  # no contact: last
    assert order("created") == [b.id, c.id, a.id, never.id]  # newest first
    assert [i for i in order("name") if i != a.id] == [b.id, c.id, never.id]
    assert listed_ids(page(rep_client, "/leads/")) == order("last_contact")  # the default


@pytest.mark.parametrize("sort", ["bogus", "", "name;drop"])
def test_unknown_sort_falls_back_to_last_contact_even_with_a_cursor(assorted, rep_client, sort):
    for params in ({"sort": sort}, {"sort": sort, "after": "2024-01-01T00:00:00|5"}):
        response = rep_client.get("/leads/", query_string=params)
        assert response.status_code == 200, params


@pytest.mark.parametrize(
    "after",
    [
        "",
        "|",
        "x",
        "x|y",
        "|abc",
        "2024-13-45|3",
        "not a date|7",
        "|||",
        "9" * 40,
        "|" + "9" * 40,
        "2024-01-01T00:00:00|5",  # no time zone (hand-edited or an older link)
        "2024-01-01T00:00:00-03:00|5",
        "2024-01-01|5",
    ],
)
def test_malformed_cursors_do_not_break_the_list(assorted, rep_client, after):
    for sort in ("last_contact", "name", "created"):
        response = rep_client.get("/leads/", query_string={"sort": sort, "after": after})
        assert response.status_code == 200, (sort, after)


# --- keyset pagination -------------------------------------------------------------------


@pytest.fixture
def hundred_twenty(engine, rep):  # type: ignore[no-untyped-def]
    """120 leads: ties in names, contact dates and creation times, 30 never contacted."""
    leads = []
    with lead_data(engine) as data:
        for i in range(120):
            lead = data.lead(
                name=f"Lead {i % 37:02d}",  # repeated names
                created_at=BASE_DATE + timedelta(hours=i // 4),  # four leads per instant
                source="sync" if i % 2 else "manual",
            )
            if i % 4 != 3:  # every fourth lead never contacted
                data.email(lead, rep=rep, date=BASE_DATE + timedelta(days=(i * 7) % 40))
            leads.append(lead)
    return leads


def expected_order(engine, sort: str, source: str = "") -> list[int]:  # type: ignore[no-untyped-def]
    """The whole list in the order the app promises, computed from the stored leads."""
    from sqlalchemy import select

    from dashboard.db.engine import read_session
    from dashboard.models import Lead

    with read_session(engine) as session:
        leads = [
            lead
            for lead in session.scalars(select(Lead).where(Lead.state == "active"))
            if not source or lead.source == source
        ]
    if sort == "name":
        return [x.id for x in sorted(leads, key=lambda x: (x.name, x.id))]
    column = "created_at" if sort == "created" else "last_contact_at"
    dated = sorted(
        (x for x in leads if getattr(x, column)),
        key=lambda x: (getattr(x, column), x.id),
        reverse=True,
    )
    undated = sorted((x for x in leads if not getattr(x, column)), key=lambda x: -x.id)
    return [x.id for x in dated + undated]


def walk(client, url: str, limit: int = 20) -> tuple[list[int], list[str]]:  # type: ignore[no-untyped-def]
    """Follow "Next page" links from `url`; the ids seen and the URLs visited."""
    seen, urls = [], []
    while url and len(urls) < limit:
        urls.append(url)
        html = page(client, url)
        ids = listed_ids(html)
        assert len(ids) <= PAGE_SIZE
        seen += ids
        url = next_link(html)
    return seen, urls


@pytest.mark.parametrize("sort", ["last_contact", "name", "created"])
def test_keyset_pages_show_every_lead_exactly_once_in_order(
    hundred_twenty, engine, rep_client, sort
):
    seen, urls = walk(rep_client, f"/leads/?sort={sort}")

    assert len(urls) == 3  # 50 + 50 + 20
    assert len(seen) == len(set(seen)) == 120
    assert seen == expected_order(engine, sort)


@pytest.mark.parametrize("sort", ["last_contact", "name", "created"])
def test_keyset_pages_keep_the_filters(hundred_twenty, engine, rep_client, sort):
    seen, urls = walk(rep_client, f"/leads/?sort={sort}&source=sync")
    assert seen == expected_order(engine, sort, source="sync")
    assert len(urls) == 2
    for url in urls[1:]:
        query = parse_qs(urlsplit(url).query)
        assert query["sort"] == [sort] and query["source"] == ["sync"] and query["after"]


def test_keyset_pages_walk_past_a_page_of_never_contacted_leads(engine, rep, rep_client):
    with lead_data(engine) as data:
        quiet = [data.lead(name=f"Quiet {i}") for i in range(PAGE_SIZE + 15)]
        talked = data.lead(name="Talked")
        data.email(talked, rep=rep)
    seen, _urls = walk(rep_client, "/leads/")
    assert seen == [talked.id, *sorted((x.id for x in quiet), reverse=True)]


def test_name_sort_pages_walk_past_leads_without_a_name(engine, rep_client):
    with lead_data(engine) as data:  # a rep can clear a lead's name on the edit page
        unnamed = [data.lead(name="") for _ in range(PAGE_SIZE + 5)]
        named = data.lead(name="Named")
    seen, urls = walk(rep_client, "/leads/?sort=name", limit=5)
    assert seen == [*(x.id for x in unnamed), named.id]
    assert len(urls) == 2


# --- HTMX and the URL --------------------------------------------------------------------


def test_htmx_search_gets_only_the_results_partial(searchable, rep_client):
    response = rep_client.get("/leads/?q=sincro", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html and 'id="lead-results"' not in html
    assert 'id="leads-table"' in html
    assert sorted(listed_ids(html)) == sorted(
        [searchable["accented_body"].id, searchable["plain_subject"].id]
    )


def test_htmx_search_without_results_gets_the_empty_hint_only(searchable, rep_client):
    html = page(rep_client, "/leads/?q=xyzzy", headers=HTMX)
    assert "<html" not in html and "leads-table" not in html
    assert "No lead matches." in html


def test_back_button_history_restore_gets_the_full_page(searchable, rep_client):
    # htmx (historyCacheSize 0) re-fetches the URL on "back" with both headers and swaps the
    # answer into <body>: the results partial alone would wipe the nav and the search form.
    headers = {**HTMX, "HX-History-Restore-Request": "true"}
    html = page(rep_client, "/leads/?q=sincro", headers=headers)
    assert 'class="lead-filters"' in html and 'id="lead-results"' in html


def test_full_page_includes_the_filters_form_and_the_results(searchable, rep_client):
    html = page(rep_client, "/leads/")
    assert "<html" in html and 'class="lead-filters"' in html and 'id="lead-results"' in html
    assert 'hx-push-url="true"' in html  # the URL follows the search (back button, sharing)


def test_filters_in_the_url_come_back_selected_in_the_form(assorted, rep_client):
    html = page(
        rep_client,
        "/leads/",
        query_string={"q": 'mine "x"', "owner": "me", "status": "awaiting",
                      "source": "manual", "sort": "name"},
    )  # fmt: skip
    assert 'value="mine &#34;x&#34;"' in html
    assert '<option value="me" selected>' in html
    assert '<option value="awaiting" selected>' in html
    assert '<option value="manual" selected>' in html
    assert '<option value="name" selected>' in html
    assert '<option value="reply" selected>' not in html


def test_next_page_link_carries_every_filter_and_the_cursor(hundred_twenty, rep_client):
    html = page(rep_client, "/leads/", query_string={"q": "lead", "sort": "created"})
    query = parse_qs(urlsplit(next_link(html)).query)
    assert query["q"] == ["lead"] and query["sort"] == ["created"]
    assert query["after"][0].endswith(f"|{listed_ids(html)[-1]}")


def test_the_last_page_has_no_next_link(hundred_twenty, rep_client):
    _seen, urls = walk(rep_client, "/leads/")
    assert next_link(page(rep_client, urls[-1])) is None


# --- query count -------------------------------------------------------------------------


def add_contacted_leads(engine, count: int, owners: list) -> None:  # type: ignore[no-untyped-def]
    """Leads with two addresses, an owner and an email from a different rep each."""
    with lead_data(engine) as data:
        for i in range(count):
            n = factories.next_number()
            lead = data.lead(
                addresses=[f"q{n}@a.test", f"q{n}@b.test"],
                owner=owners[i % len(owners)],
                company=f"Company {n}",
            )
            data.email(lead, rep=owners[(i + 1) % len(owners)], direction="in", body_text="cotação")


def statements_for(engine, client, url: str, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQL statements one request runs (after a warm-up request)."""
    page(client, url, **kwargs)
    with counted_queries(engine) as statements:
        page(client, url, **kwargs)
    return statements


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/leads/", {}),
        ("/leads/?q=cotacao", {}),
        ("/leads/?q=cotacao", HTMX),
        ("/leads/?owner=me&status=reply&sort=name", {}),
    ],
)
def test_list_query_count_does_not_grow_with_the_rows_shown(
    engine, rep, teammate, admin, rep_client, url, headers
):
    owners = [rep, teammate, admin]
    add_contacted_leads(engine, 5, owners)
    small = statements_for(engine, rep_client, url, headers=headers)
    add_contacted_leads(engine, 45, owners)
    shown_rows = len(listed_ids(page(rep_client, url, headers=headers)))
    large = statements_for(engine, rep_client, url, headers=headers)

    assert shown_rows > 5
    assert small and len(large) == len(small), "\n".join(large)
