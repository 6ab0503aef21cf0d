"""Lead search finds every lead by its name, company and addresses, whoever created it: the
real sync (inbound and outbound, against Dovecot), the lead form, a merge, an address added
later, the CLI. Accent- and case-insensitive, from the first letter; email text from the
third."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.leads.queries import FEW_MATCHES
from dashboard.models import Lead
from dashboard.states import AutoCreate, LeadSource
from tests.support.lead_data import ago, lead_data
from tests.support.leads import ENGLISH, listed_ids, next_link, page
from tests.support.sync import connect, plain_email, set_company, sync

PAULO = "Paulo Mendes <paulo.mendes@construtoraalfa.com.br>"
LUISA = "Luísa Gonçalves <luisa@vidracaria-sol.com.br>"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA; English pages."""
    return {**ENGLISH, "IMAP_CA_FILE": dovecot_server.ca_file}


def search(client, q: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Lead ids the list shows for a query."""
    return listed_ids(page(client, "/leads/", query_string={"q": q}))


def misses(client, lead_id: int, queries: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """The queries that do not find the lead (all of them are expected to)."""
    return [q for q in queries if lead_id not in search(client, q)]


def lead_id_named(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    """The id of the one lead with this name."""
    with read_session(engine) as session:
        return session.scalars(select(Lead.id).where(Lead.name == name)).one()


# --- the real sync ---------------------------------------------------------------------


@pytest.fixture
def synced(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """Paulo wrote in (INBOX); the rep wrote to Luísa (Sent): the sync creates both leads."""
    set_company(engine, auto_create=AutoCreate.ALL)
    mailbox_user.append("INBOX", plain_email(PAULO, mailbox_user.address))
    mailbox_user.append("[Gmail]/E-mails enviados", plain_email(mailbox_user.address, LUISA))
    result = sync(app, connect(app, mailbox_user))
    assert result.error_code is None, result
    with read_session(engine) as session:
        leads = {lead.name: lead for lead in session.scalars(select(Lead))}
    assert {name: lead.source for name, lead in leads.items()} == {
        "Paulo Mendes": LeadSource.SYNC,
        "Luísa Gonçalves": LeadSource.SYNC,
    }
    return {name: lead.id for name, lead in leads.items()}


def test_an_inbound_lead_of_the_sync_is_found_by_every_part_of_name_and_address(synced, rep_client):
    queries = [
        "Paulo", "paulo", "MENDES", "Paulo Mendes", "mendes paulo", "aulo",  # name
        "paulo.mendes", "paulo.mendes@construtoraalfa.com.br", "PAULO.MENDES@",  # address
        "construtoraalfa", "construtoraalfa.com.br", "@construtoraalfa", "alfa.com",  # domain
        "p", "pa", "P", "PA", "m", "me", "c", "co", "pa me",  # first letters of each word
    ]  # fmt: skip
    assert misses(rep_client, synced["Paulo Mendes"], queries) == []


def test_an_outbound_lead_of_the_sync_is_found_with_or_without_accents(synced, rep_client):
    queries = [
        "Luísa", "luisa", "LUISA", "LUÍSA", "gonçalves", "goncalves", "GONÇALVES",
        "luísa gonçalves", "vidracaria", "vidracaria-sol", "sol.com.br", "l", "lu", "g", "go",
        "v", "vi",
    ]  # fmt: skip
    assert misses(rep_client, synced["Luísa Gonçalves"], queries) == []


def test_short_queries_match_the_start_of_a_word_not_its_middle(synced, rep_client):
    paulo = synced["Paulo Mendes"]
    for q in ("a", "au", "en", "lf", "x"):  # inside words only ("aulo", "mendes", "alfa")
        assert paulo not in search(rep_client, q), q


# --- every other way a lead or an address is made ----------------------------------------


def new_lead(client, name: str, addresses: str, company: str = "") -> None:  # type: ignore[no-untyped-def]
    """Create a lead with the real form."""
    response = client.post(
        "/leads/new",
        data={"name": name, "addresses": addresses, "company": company, "phone": "", "owner": "0"},
    )
    assert response.status_code == 302, response.data[:300]


def test_form_leads_are_found_with_accents_both_ways(engine, rep_client):
    new_lead(rep_client, "João Conceição", "jc@acento.test", company="Açaí do Norte")
    new_lead(rep_client, "Joao Conceicao", "joao@semacento.test", company="Acai do Norte")
    accented = lead_id_named(engine, "João Conceição")
    plain = lead_id_named(engine, "Joao Conceicao")
    for q in ("joao", "João", "JOÃO", "JOAO", "jo", "JÕ", "j", "conceição", "CONCEICAO",
              "ceição", "açaí", "acai", "AÇ", "a"):  # fmt: skip
        assert {accented, plain} <= set(search(rep_client, q)), q


def test_an_address_added_later_is_found(engine, rep_client):
    new_lead(rep_client, "Renata", "renata@antiga.test")
    lead_id = lead_id_named(engine, "Renata")
    assert lead_id not in search(rep_client, "novaempresa")
    response = rep_client.post(
        f"/leads/{lead_id}/edit",
        data={
            "name": "Renata Lima",
            "addresses": "renata@antiga.test\nfinanceiro@novaempresa.com.br",
            "company": "Nova Empresa",
            "phone": "",
            "owner": "0",
        },
    )
    assert response.status_code == 302, response.data[:300]
    queries = ["novaempresa", "financeiro@nova", "f", "fi", "n", "lima", "li", "Nova Empresa"]
    assert misses(rep_client, lead_id, queries) == []


def test_a_merged_lead_is_found_by_the_other_leads_addresses(engine, rep_client):
    new_lead(rep_client, "Carla Dias", "carla@primeira.test")
    new_lead(rep_client, "C. Dias", "cdias@outra-firma.test", company="Outra Firma")
    keep = lead_id_named(engine, "Carla Dias")
    response = rep_client.post(f"/leads/{keep}/merge", data={"other": "cdias@outra-firma.test"})
    assert response.status_code == 302
    assert search(rep_client, "outra-firma") == [keep]
    assert misses(rep_client, keep, ["cdias", "ou", "o", "outra firma", "primeira"]) == []


def test_a_lead_added_with_the_cli_is_found(app, engine, admin, rep_client):
    result = app.test_cli_runner().invoke(
        args=["leads", "add", "--name", "Érica Araújo", "--company", "Metalúrgica Ypiranga",
              "--owner", admin.email, "erica@ypiranga.ind.br", "Erica.Araujo+crm@Gmail.test"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lead_id = lead_id_named(engine, "Érica Araújo")
    queries = ["erica", "ÉRICA", "araujo", "metalurgica", "ypiranga", "ind.br",
               "erica.araujo@gmail", "e", "ar", "y", "me"]  # fmt: skip
    assert misses(rep_client, lead_id, queries) == []
    with read_session(engine) as session:
        assert session.get(Lead, lead_id).owner_id == admin.id  # type: ignore[union-attr]


def test_the_cli_refuses_an_unknown_owner_and_a_bad_address_on_one_line(app, admin):
    runner = app.test_cli_runner()
    for args in (["--owner", "nobody@acme.test", "x@y.test"], ["not-an-address"]):
        result = runner.invoke(args=["leads", "add", *args])
        assert result.exit_code == 1
        assert len(result.output.strip().splitlines()) == 1, result.output


# --- email text: from the third letter ---------------------------------------------------


def test_one_or_two_letters_never_match_email_text(engine, rep, rep_client):
    with lead_data(engine) as data:
        by_text = data.lead(name="Zélia", addresses=["z@zzz.test"])
        data.email(by_text, rep=rep, subject="Proposta", body_text="Pedido de orçamento.")
        by_name = data.lead(name="Pedro Pires", addresses=["pp@pires.test"])
    assert search(rep_client, "p") == [by_name.id]
    assert search(rep_client, "pr") == []  # "Pedro Pires" has no word starting with "pr"
    assert search(rep_client, "pe") == [by_name.id]
    assert set(search(rep_client, "pro")) == {by_text.id}
    assert set(search(rep_client, "ped")) == {by_text.id, by_name.id}


# --- many or few matches: the same pages --------------------------------------------------


def test_pages_are_the_same_whether_many_or_few_leads_match(engine, rep_client):
    """Past FEW_MATCHES the page is read by walking the sort index, below it from the
    matches: both give every match once, newest contact first, page after page."""
    with lead_data(engine) as data:
        many = [data.lead(name=f"Paula {n}", addresses=[f"x{n}@many.test"]) for n in range(260)]
        few = [data.lead(name=f"Quênia {n}", addresses=[f"y{n}@few.test"]) for n in range(60)]
        for n, lead in enumerate([*many[::7], *few[::7]]):  # some were contacted, some not
            data.email(lead, subject="Oi", body_text="Oi.", date=ago(days=n % 5, hours=n))
    expected = {
        "pa": [lead.id for lead in many],
        "que": [lead.id for lead in few],
        "q": [lead.id for lead in few],
    }
    assert len(many) > FEW_MATCHES and len(few) < FEW_MATCHES
    for q, ids in expected.items():
        shown, url = [], f"/leads/?q={q}"
        while url:
            html = page(rep_client, url)
            shown += listed_ids(html)
            url = next_link(html)
        assert sorted(shown) == sorted(ids), q
        with read_session(engine) as session:
            rows = session.execute(select(Lead.id, Lead.last_contact_at).where(Lead.id.in_(ids)))
            contacted = {lead_id: at for lead_id, at in rows}
        order = sorted(ids, key=lambda i: (contacted[i] is not None, contacted[i] or 0, i))
        assert shown == order[::-1], q
