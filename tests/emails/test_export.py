"""A lead's data exported (LGPD): the ZIP's files, attachment bytes fetched from the real
mailbox (or listed as unavailable, with the reason), what the requester may see of each
email, and the admin-only, audited download."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from functools import partial
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session, write_session
from dashboard.emails.attachments import download
from dashboard.emails.export import export_lead
from dashboard.leads.access_queries import viewer_of
from dashboard.models import AuditEvent, Lead, PrivateThread
from tests.support.lead_data import lead_data, seq
from tests.support.sync import (
    PDF,
    STORED,
    MailMaker,
    append_mails,
    connect,
    make_lead,
    set_mailbox,
    sync,
)


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """The app trusts the test Dovecot's certificate."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def exported(app, lead_id: int, viewer=None) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    """Export through the service, as the command line does (everything, fetched now)."""
    engine, out = app.extensions["leadsync.engine"], io.BytesIO()
    with read_session(engine) as session:
        fetch = partial(
            download, session, viewer_id=0, box=app.extensions["leadsync.secrets"],
            ca_file=app.config["IMAP_CA_FILE"],
        )  # fmt: skip
        export_lead(session, session.get(Lead, lead_id), out, viewer=viewer, fetch=fetch)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def email_folders(archive: zipfile.ZipFile) -> list[str]:
    """The email folders in the archive, in order."""
    return sorted({name.rsplit("/", 1)[0] for name in archive.namelist() if "/email.json" in name})


@pytest.fixture
def synced(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A lead whose message with a PDF attachment was synced from the real Dovecot."""
    box = SimpleNamespace(user=mailbox_user, id=connect(app, mailbox_user))
    n = seq()
    address = f"paulo{n}@construtora.test"
    lead_id = make_lead(engine, f"Paulo {n}", address)
    mail = MailMaker(mailbox_user.address).message(
        "with_pdf", sender=address, to=[mailbox_user.address], text=f"Segue a proposta {n}.\n",
        fate=STORED, attachments=[("proposta.pdf", "application/pdf", PDF)],
    )  # fmt: skip
    append_mails(mailbox_user, [mail])
    assert sync(app, box.id).totals()["stored"] == 1
    return SimpleNamespace(box=box, lead_id=lead_id, address=address, mail=mail, n=n)


def test_the_export_holds_the_lead_its_email_and_the_attachment_bytes(app, synced):
    archive = exported(app, synced.lead_id)
    assert "Dados de um lead" in archive.read("LEIAME.txt").decode()
    lead = json.loads(archive.read("lead.json"))
    assert lead["id"] == synced.lead_id
    assert [a["address"] for a in lead["addresses"]] == [synced.address]
    (folder,) = email_folders(archive)
    email = json.loads(archive.read(f"{folder}/email.json"))
    assert email["access"] == "full" and email["from"]["address"] == synced.address
    assert f"Segue a proposta {synced.n}." in archive.read(f"{folder}/body.txt").decode()
    (attachment,) = email["attachments"]
    assert attachment["filename"] == "proposta.pdf" and attachment["unavailable"] is None
    assert archive.read(f"{folder}/{attachment['file']}") == PDF
    assert json.loads(archive.read("tracking.json")) == []


def test_an_attachment_of_a_disconnected_mailbox_is_listed_as_unavailable(app, engine, synced):
    set_mailbox(engine, synced.box.id, secret=None)  # "Desconectar" keeps the history
    archive = exported(app, synced.lead_id)
    (folder,) = email_folders(archive)
    (attachment,) = json.loads(archive.read(f"{folder}/email.json"))["attachments"]
    assert (attachment["file"], attachment["unavailable"]) == (None, "mailbox_disconnected")
    assert not any("/attachments/" in name for name in archive.namelist())


def test_an_attachment_of_a_deleted_message_is_listed_as_gone(app, synced):
    with synced.box.user.connect() as client:
        client.select_folder("INBOX")
        client.delete_messages([synced.mail.uid])
        client.expunge()
    archive = exported(app, synced.lead_id)
    (folder,) = email_folders(archive)
    (attachment,) = json.loads(archive.read(f"{folder}/email.json"))["attachments"]
    assert (attachment["file"], attachment["unavailable"]) == (None, "message_gone")


# --- what the requester may see, and the download -------------------------------------------


@pytest.fixture
def lead_with_a_private_thread(engine, rep, teammate):  # type: ignore[no-untyped-def]
    """A lead with an open email and one in a thread its rep marked private."""
    with lead_data(engine) as data:
        lead = data.lead()
        open_email = data.email(lead, rep=rep, body_text="Aberto a todos")
        private = data.email(lead, rep=teammate, body_text="Só meu", subject="Confidencial")
        data.session.add(PrivateThread(thread_key=private.thread_key, user_id=teammate.id))
    return SimpleNamespace(lead=lead, open=open_email, private=private)


def test_an_admin_export_holds_what_the_admin_may_see(app, admin, lead_with_a_private_thread):
    archive = exported(app, lead_with_a_private_thread.lead.id, viewer=viewer_of(admin))
    documents = {
        json.loads(archive.read(f"{folder}/email.json"))["id"]: folder
        for folder in email_folders(archive)
    }
    private = lead_with_a_private_thread.private.id
    assert json.loads(archive.read(f"{documents[private]}/email.json"))["access"] == "metadata"
    assert f"{documents[private]}/body.txt" not in archive.namelist()
    assert "Confidencial" not in archive.read(f"{documents[private]}/email.json").decode()
    opened = documents[lead_with_a_private_thread.open.id]
    assert archive.read(f"{opened}/body.txt").decode() == "Aberto a todos"


def test_the_admin_downloads_the_zip_and_the_export_is_audited(
    engine, admin, admin_client, lead_with_a_private_thread
):
    lead_id = lead_with_a_private_thread.lead.id
    response = admin_client.post(f"/leads/{lead_id}/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"lead-{lead_id}-dados-" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert len(email_folders(archive)) == 2
    with read_session(engine) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "lead.export")).one()
    assert (event.actor_id, event.changes) == (admin.id, {"lead": lead_id, "emails": 2})


def test_a_rep_cannot_export_and_a_missing_lead_is_404(admin_client, rep_client, engine):
    with write_session(engine) as session:
        lead = Lead(name="Ninguém")
        session.add(lead)
    assert rep_client.post(f"/leads/{lead.id}/export").status_code == 403
    assert admin_client.post(f"/leads/{lead.id + 1000}/export").status_code == 404


def test_a_lead_with_2000_emails_is_exported_without_holding_them_in_memory(
    app, engine, rep, tmp_path
):
    body = "Proposta comercial detalhada, item por item. " * 120  # ~5 KB each, ~11 MB in all
    with lead_data(engine) as data:
        lead = data.lead()
        for _ in range(2000):
            data.email(lead, rep=rep, body_text=body)
    tracemalloc.start()
    try:
        with read_session(engine) as session, (tmp_path / "big.zip").open("wb") as out:
            summary = export_lead(
                session, session.get(Lead, lead.id), out, viewer=None, fetch=lambda _a: b""
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.emails == 2000
    assert peak < 8 * 1024 * 1024, peak  # a chunk of emails at a time, not 11 MB of bodies
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        assert len(email_folders(archive)) == 2000
