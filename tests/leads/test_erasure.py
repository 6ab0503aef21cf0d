"""A lead's data erased (LGPD): what goes, what stays, the never-log fingerprint, the audit
entry without the data, the pages (admins only) and the bytes gone from the database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.db.engine import read_session, write_session
from dashboard.db.scrub import scrub
from dashboard.leads.erasure import ErasureError, erase_lead, lead_to_erase
from dashboard.mail.addresses import fingerprint
from dashboard.models import (
    Attachment,
    AuditEvent,
    Company,
    Email,
    EmailLead,
    Lead,
    LeadAddress,
    NeverLogNote,
    Notification,
    OutgoingEmail,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    TrackedLink,
    TrackingEvent,
    utcnow,
)
from dashboard.sync.rules import NeverLogList
from tests.support.database import dangling_foreign_keys, email_text_ids, sqlite_only
from tests.support.lead_data import LeadData, lead_data, seq
from tests.support.leads import page

TABLES = (
    Lead, LeadAddress, Email, EmailLead, Attachment, Sighting, OutgoingEmail, TrackedLink,
    TrackingEvent, Notification, SkippedMessage, SkippedAddress,
)  # fmt: skip


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows per table."""
    with read_session(engine) as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in TABLES
        }


def smart_email(data: LeadData, lead: Lead, rep, address: str, email: Email | None) -> int:  # type: ignore[no-untyped-def]
    """A sent smart email to the lead with a tracked link, an open, a click and a notification."""
    outgoing = OutgoingEmail(
        user_id=rep.id, lead_id=lead.id, message_id=f"<smart{seq()}@acme.test>",
        to_addrs=[address], subject="Proposta", state="sent", tracking=True,
        email_id=email.id if email else None,
    )  # fmt: skip
    data.session.add(outgoing)
    data.session.flush()
    link = TrackedLink(outgoing_id=outgoing.id, url="https://acme.test/proposta")
    data.session.add(link)
    data.session.flush()
    data.session.add(TrackingEvent(outgoing_id=outgoing.id, recipient=address, kind="open"))
    data.session.add(
        TrackingEvent(outgoing_id=outgoing.id, recipient=address, kind="click", link_id=link.id)
    )
    data.session.add(
        Notification(user_id=rep.id, kind="open", lead_id=lead.id, outgoing_id=outgoing.id)
    )
    return outgoing.id


@pytest.fixture
def people(engine, admin, rep):  # type: ignore[no-untyped-def]
    """Lead "gone" (to erase) with two addresses and "stays"; mail of each, one shared."""
    n = seq()
    gone_addresses = [f"zelia{n}@quixabeira.test", f"zelia.q{n}@outra.test"]
    with lead_data(engine) as data:
        gone = data.lead(name=f"Zélia Quixabeira {n}", addresses=gone_addresses, phone="+55 11 9")
        stays = data.lead(name=f"Otto {n}")
        own = data.email(gone, rep=rep, body_text=f"segredo jabuticabamarmelada{n}")
        data.attachment(own, filename="contrato.pdf")
        data.email(gone, rep=rep)
        shared = data.email([gone, stays], rep=rep, subject="Reunião a três")
        kept = data.email(stays, rep=rep)
        data.no_lead_skip(rep, gone_addresses[1])
        other_skip = data.no_lead_skip(rep, f"alguem{n}@fora.test")
        smart_email(data, gone, rep, gone_addresses[0], own)
    return {
        "gone": gone, "stays": stays, "addresses": gone_addresses, "own": own,
        "shared": shared, "kept": kept, "other_skip": other_skip,
        "phrase": f"jabuticabamarmelada{n}",
    }  # fmt: skip


def erase(engine, lead: Lead, actor=None):  # type: ignore[no-untyped-def]
    """Erase through the service as the command line does, then scrub."""
    with write_session(engine) as session:
        plan = erase_lead(session, session.get(Lead, lead.id), actor=actor, now=utcnow())
    scrub(engine)
    return plan


def test_erasure_takes_the_lead_its_own_mail_tracking_and_ledger_rows(engine, people, admin):
    before = counts(engine)
    plan = erase(engine, people["gone"], admin)
    after = counts(engine)
    assert (plan.emails, plan.shared_emails, plan.attachments) == (2, 1, 1)
    assert (plan.smart_emails, plan.tracking_events, plan.notifications, plan.skipped) == (
        1, 2, 1, 1,
    )  # fmt: skip
    gone = {name: before[name] - after[name] for name in before}
    assert gone == {
        "Lead": 1, "LeadAddress": 2, "Email": 2, "EmailLead": 3, "Attachment": 1, "Sighting": 2,
        "OutgoingEmail": 1, "TrackedLink": 1, "TrackingEvent": 2, "Notification": 1,
        "SkippedMessage": 1, "SkippedAddress": 1,
    }  # fmt: skip
    with read_session(engine) as session:
        links = session.scalars(
            select(EmailLead.lead_id).where(EmailLead.email_id == people["shared"].id)
        ).all()
        assert links == [people["stays"].id]  # the shared email stays, unlinked from the lead
        assert session.get(Email, people["kept"].id) is not None
        assert session.get(SkippedMessage, people["other_skip"]) is not None
        assert email_text_ids(session, people["phrase"]) == []
        assert dangling_foreign_keys(session) == []


def test_the_addresses_go_on_the_never_log_list_as_fingerprints_with_a_note(engine, people):
    erase(engine, people["gone"])
    with read_session(engine) as session:
        company = session.scalars(select(Company)).one()
        note = session.get(NeverLogNote, fingerprint(people["addresses"][0]))
    listed = NeverLogList.build(company.never_log)
    assert all(listed.covers(a) for a in people["addresses"])
    assert listed.covers(people["addresses"][0].replace("@", "+crm@"))  # the person, any tag
    assert not any("quixabeira" in entry for entry in company.never_log)
    assert (note.reason, note.lead_id) == ("erasure", people["gone"].id)


def test_the_audit_log_says_who_erased_which_lead_without_the_data(engine, people, admin):
    erase(engine, people["gone"], admin)
    with read_session(engine) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "lead.erase")).one()
    assert event.actor_id == admin.id
    assert event.changes == {"lead": people["gone"].id, "emails": 2}


def test_an_unknown_address_or_one_erased_already_is_refused_clearly(engine, people):
    address = people["addresses"][0]
    erase(engine, people["gone"])
    with read_session(engine) as session:
        with pytest.raises(ErasureError, match="erased already"):
            lead_to_erase(session, address)
        with pytest.raises(ErasureError, match="No lead has the address"):
            lead_to_erase(session, f"ninguem{seq()}@fora.test")


# --- the bytes ----------------------------------------------------------------------------


def database_bytes(app) -> bytes:  # type: ignore[no-untyped-def]
    """The database file and its WAL, as bytes."""
    path = Path(app.instance_path) / "leadsync.db"
    wal = path.with_name("leadsync.db-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@sqlite_only("reads the database file; PostgreSQL does not zero freed space (README)")
def test_the_database_file_no_longer_holds_the_address_or_the_mail_after_erasure(app, engine, rep):
    n = seq()
    address, phrase, name = f"zelia{n}@quixabeira.test", f"abuticabamarmelad{n}", f"Quixabeira{n}"
    long_body = f"segredo j{phrase} " + "texto comprido da proposta " * 600  # overflow pages
    with lead_data(engine) as data:
        gone = data.lead(name=name, addresses=[address])
        other = data.lead()
        for _ in range(3):
            data.email(gone, rep=rep, body_text=long_body)
        for _ in range(20):
            data.email(other, rep=rep)
    with lead_data(engine) as data:  # the lead's row rewritten after its first version
        data.email(gone, rep=rep, body_text=f"outra j{phrase}")
    with write_session(engine) as session:  # and moved: a longer row, its old copy freed
        session.get(Lead, gone.id).company_name = "Construtora Quixabeira Alfa Ltda"
    scrub(engine)  # checkpointed: everything is in the file
    held = database_bytes(app)
    assert address.encode() in held and phrase.encode() in held and name.encode() in held
    erase(engine, gone)
    held = database_bytes(app)
    for secret in (address, phrase, name, name.lower()):
        assert secret.encode() not in held, secret


# --- the pages ----------------------------------------------------------------------------


def test_an_admin_sees_the_counts_then_erases(engine, people, admin_client):
    lead = people["gone"]
    html = page(admin_client, f"/leads/{lead.id}")
    assert f'href="/leads/{lead.id}/erase"' in html and 'id="export-data"' in html
    html = page(admin_client, f"/leads/{lead.id}/erase")
    assert "2 e-mails que não envolvem nenhum outro lead" in html
    assert "1 e-mail também envolve outro lead" in html
    response = admin_client.post(f"/leads/{lead.id}/erase")
    assert response.status_code == 302
    with read_session(engine) as session:
        assert session.get(Lead, lead.id) is None


def test_a_rep_sees_no_data_buttons_and_is_refused_both_routes(engine, people, rep_client):
    lead = people["gone"]
    html = page(rep_client, f"/leads/{lead.id}")
    assert "/erase" not in html and 'id="export-data"' not in html
    assert rep_client.get(f"/leads/{lead.id}/erase").status_code == 403
    assert rep_client.post(f"/leads/{lead.id}/erase").status_code == 403
    assert rep_client.post(f"/leads/{lead.id}/export").status_code == 403
    with read_session(engine) as session:
        assert session.get(Lead, lead.id) is not None


def test_erasing_without_the_csrf_token_is_refused(engine, people, admin_client):
    response = admin_client.post(f"/leads/{people['gone'].id}/erase", csrf=False)
    assert response.status_code in (400, 403)
    with read_session(engine) as session:
        assert session.get(Lead, people["gone"].id) is not None


def test_the_company_page_says_why_a_fingerprint_is_on_the_never_log_list(
    engine, people, admin_client
):
    admin_client.post(f"/leads/{people['gone'].id}/erase")
    html = page(admin_client, "/settings/company")
    entry = fingerprint(people["addresses"][0])
    assert entry in html  # in the list's textarea, so saving the form keeps it
    assert f"lead nº {people['gone'].id}, cujos dados foram apagados" in html
    assert "quixabeira" not in html.lower()
    assert f"apagou os dados do lead #{people['gone'].id} (2 e-mails excluídos)" in html
