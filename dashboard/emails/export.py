"""A lead's data exported as one ZIP (LGPD art. 18, II and V): what a person and a program
can both read.

    LEIAME.txt                          what each file is (pt-BR)
    lead.json                           the lead: names, addresses, owner, company, dates
    emails/<date>_<id>/email.json       headers, access level, attachment list
    emails/<date>_<id>/body.txt|.html   the bodies, as stored
    emails/<date>_<id>/attachments/...  attachment bytes, fetched from a mailbox now
    tracking.json                       smart emails sent to the lead and their opens/clicks

Each email holds what the requester may see of it (`leads/access.email_access`; the command
line, `viewer=None`, sees everything). Attachments come from a mailbox that still has the
message; one that cannot be fetched is listed with the reason, the export goes on. Emails are
read and written a chunk at a time into the caller's file (a temporary file, not memory).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlmodel import Session

from dashboard.emails.attachments import AttachmentGone, places
from dashboard.leads.access import Access, Viewer, email_access
from dashboard.leads.access_queries import company_visibility, private_threads, seen_ids
from dashboard.mail.imap_client import ImapError
from dashboard.models import (
    Attachment,
    Email,
    EmailLead,
    Lead,
    LeadAddress,
    OutgoingEmail,
    TrackedLink,
    TrackingEvent,
    User,
)

CHUNK = 200  # emails read and written at a time
# The attachment's bytes, from a mailbox that still has the message; raises AttachmentGone.
Fetch = Callable[[Attachment], bytes]
README = """\
Dados de um lead exportados do LeadSync
=======================================

Este arquivo ZIP reúne o que o LeadSync guarda sobre uma pessoa (lead), como pede a LGPD
(Lei 13.709/2018, art. 18). Todos os arquivos .json estão em UTF-8; as datas estão em UTC,
no formato ISO 8601 (por exemplo 2025-03-01T12:00:00+00:00).

lead.json
    O lead: nome, empresa, telefone, endereços de e-mail (com a data em que cada um foi
    cadastrado), responsável, origem (sync = criado pela sincronização; manual = por uma
    pessoa), data de criação e datas do primeiro e do último contato.

emails/
    Uma pasta por e-mail ligado ao lead, da mais antiga para a mais nova, com nome
    <data>_<número>. Em cada pasta:
    - email.json: cabeçalhos (remetente, destinatários, assunto, data, Message-ID), direção
      (in = recebido pela equipe, out = enviado pela equipe), o vendedor e a lista de anexos.
      O campo "access" diz o que quem exportou podia ver: "full" (tudo), "subject" (assunto e
      pessoas, sem corpo nem anexos) ou "metadata" (só data, direção e vendedor).
    - body.txt e body.html: o corpo do e-mail em texto e em HTML, como foram recebidos (o
      HTML pode carregar imagens de fora ao ser aberto num navegador).
    - attachments/: os anexos, buscados na caixa de e-mail no momento da exportação. Um anexo
      que não pôde ser buscado aparece em email.json com "file": null e o motivo em
      "unavailable" (mailbox_disconnected = nenhuma caixa conectada tem a mensagem;
      message_gone = a mensagem não está mais na caixa; fetch_failed = o servidor não
      respondeu).

tracking.json
    Os e-mails inteligentes enviados ao lead pelo LeadSync e, para cada um, as aberturas
    (open) e cliques (click) registrados, com data, destinatário e o link clicado.
"""


@dataclass
class ExportSummary:
    """What went into the ZIP."""

    emails: int = 0
    attachments: int = 0
    unavailable: int = 0


def iso(moment: datetime | None) -> str | None:
    """A date as ISO 8601 text (None stays None)."""
    return moment.isoformat() if moment else None


def write_json(archive: zipfile.ZipFile, name: str, value: Any) -> None:
    """One JSON file in the archive, indented for people."""
    archive.writestr(name, json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def people(session: Session) -> dict[int, dict[str, str]]:
    """Every user's name and address, by id (reps and owners named in the export)."""
    rows = session.execute(select(User.id, User.name, User.email))
    return {user_id: {"name": name, "email": email} for user_id, name, email in rows}


def lead_document(session: Session, lead: Lead, users: dict[int, dict[str, str]]) -> dict:
    """lead.json."""
    addresses = session.execute(
        select(LeadAddress.address, LeadAddress.created_at)
        .where(LeadAddress.lead_id == lead.id)
        .order_by(LeadAddress.id)
    )
    return {
        "id": lead.id,
        "name": lead.name,
        "company": lead.company_name,
        "phone": lead.phone,
        "addresses": [{"address": a, "added_at": iso(at)} for a, at in addresses],
        "owner": users.get(lead.owner_id) if lead.owner_id else None,
        "source": lead.source,
        "state": lead.state,
        "created_at": iso(lead.created_at),
        "first_contact_at": iso(lead.first_contact_at),
        "last_contact_at": iso(lead.last_contact_at),
        "email_count": lead.email_count,
    }


def email_chunks(session: Session, lead_id: int) -> Iterator[list[Email]]:
    """The lead's emails, oldest first, a chunk at a time (forgotten by the session after)."""
    ids = list(
        session.scalars(
            select(Email.id)
            .join(EmailLead, EmailLead.email_id == Email.id)
            .where(EmailLead.lead_id == lead_id)
            .order_by(Email.date, Email.id)
        )
    )
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        emails = list(session.scalars(select(Email).where(Email.id.in_(chunk))))
        yield sorted(emails, key=lambda e: (e.date, e.id))
        for email in emails:
            session.expunge(email)


def access_levels(
    session: Session, viewer: Viewer | None, emails: list[Email], visibility: str
) -> dict[int, Access]:
    """What the viewer may see of each email (everything for the command line)."""
    if viewer is None:
        return {email.id: Access.FULL for email in emails}
    seen = seen_ids(session, viewer.id, [e.id for e in emails])
    private = private_threads(session, sorted({e.thread_key for e in emails}))
    return {
        e.id: email_access(
            viewer,
            rep_id=e.user_id,
            seen=e.id in seen,
            private_by=private.get(e.thread_key),
            visibility=visibility,
        )  # fmt: skip
        for e in emails
    }


def safe_name(name: str, fallback: str) -> str:
    """A file name without folders in it."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip(". ")
    return cleaned[:120] or fallback


def unavailable_reason(session: Session, attachment: Attachment, fetch: Fetch) -> tuple[Any, str]:
    """The attachment's bytes and "" , or None and why they could not be fetched."""
    if not places(session, attachment, 0):
        return None, "mailbox_disconnected"
    try:
        return fetch(attachment), ""
    except AttachmentGone:
        return None, "message_gone"
    except (ImapError, OSError):
        return None, "fetch_failed"


def attachment_entries(
    session: Session,
    archive: zipfile.ZipFile,
    folder: str,
    attachments: Iterable[Attachment],
    fetch: Fetch,
    summary: ExportSummary,
) -> list[dict]:
    """Fetch and write each attachment; the list email.json holds."""
    entries = []
    for number, attachment in enumerate(attachments, start=1):
        data, reason = unavailable_reason(session, attachment, fetch)
        path = None
        if data is not None:
            name = safe_name(attachment.filename, f"attachment-{number}")
            path = f"{folder}/attachments/{number}_{name}"
            archive.writestr(path, data)
            summary.attachments += 1
        else:
            summary.unavailable += 1
        entries.append({
            "filename": attachment.filename, "content_type": attachment.content_type,
            "size": attachment.file_size, "inline": attachment.inline,
            "file": path.removeprefix(f"{folder}/") if path else None,
            "unavailable": reason or None,
        })  # fmt: skip
    return entries


def email_document(email: Email, access: Access, users: dict[int, dict[str, str]]) -> dict:
    """email.json, without the attachments (they are added when the body may be seen)."""
    document: dict[str, Any] = {
        "id": email.id, "access": str(access), "date": iso(email.date),
        "direction": email.direction, "origin": email.origin,
        "rep": users.get(email.user_id) if email.user_id else None,
    }  # fmt: skip
    if access.shows_subject:
        document.update({
            "message_id": email.message_id, "subject": email.subject,
            "from": {"name": email.from_name, "address": email.sender},
            "to": email.to_addrs, "cc": email.cc_addrs, "bcc": email.bcc_addrs,
            "in_reply_to": email.in_reply_to, "references": email.references,
        })  # fmt: skip
    return document


def write_email(
    session: Session,
    archive: zipfile.ZipFile,
    email: Email,
    access: Access,
    context: tuple[dict[int, dict[str, str]], Fetch, ExportSummary],
) -> None:
    """One email's folder."""
    users, fetch, summary = context
    folder = f"emails/{email.date:%Y-%m-%d}_{email.id}"
    document = email_document(email, access, users)
    if access.shows_body:
        archive.writestr(f"{folder}/body.txt", email.body_text)
        document["body_text"] = "body.txt"
        if email.body_html:
            archive.writestr(f"{folder}/body.html", email.body_html)
            document["body_html"] = "body.html"
        rows = session.scalars(
            select(Attachment).where(Attachment.email_id == email.id).order_by(Attachment.id)
        )
        document["attachments"] = attachment_entries(
            session, archive, folder, list(rows), fetch, summary
        )
    write_json(archive, f"{folder}/email.json", document)
    summary.emails += 1


def tracking_document(session: Session, lead_id: int) -> list[dict]:
    """tracking.json: the smart emails sent to the lead, each with its opens and clicks."""
    sent = session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.lead_id == lead_id).order_by(OutgoingEmail.id)
    )
    result = []
    for outgoing in sent:
        events = session.execute(
            select(TrackingEvent, TrackedLink.url)
            .outerjoin(TrackedLink, TrackedLink.id == TrackingEvent.link_id)
            .where(TrackingEvent.outgoing_id == outgoing.id)
            .order_by(TrackingEvent.at)
        )
        result.append({
            "message_id": outgoing.message_id, "email_id": outgoing.email_id,
            "state": outgoing.state, "sent_at": iso(outgoing.sent_at),
            "to": outgoing.to_addrs, "cc": outgoing.cc_addrs, "tracking": outgoing.tracking,
            "events": [
                {"kind": e.kind, "at": iso(e.at), "recipient": e.recipient, "url": url}
                for e, url in events
            ],
        })  # fmt: skip
    return result


def export_lead(
    session: Session, lead: Lead, out: IO[bytes], *, viewer: Viewer | None, fetch: Fetch
) -> ExportSummary:
    """Write the lead's ZIP into `out` (see the module docstring for its layout)."""
    users, summary = people(session), ExportSummary()
    visibility = company_visibility(session)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("LEIAME.txt", README)
        write_json(archive, "lead.json", lead_document(session, lead, users))
        for emails in email_chunks(session, lead.id):
            levels = access_levels(session, viewer, emails, visibility)
            for email in emails:
                if levels[email.id].listed:
                    write_email(session, archive, email, levels[email.id],
                                (users, fetch, summary))  # fmt: skip
        write_json(archive, "tracking.json", tracking_document(session, lead.id))
    return summary


def export_file_name(lead: Lead, now: datetime) -> str:
    """The download's name: lead-<id>-dados-<date>.zip."""
    return f"lead-{lead.id}-dados-{now:%Y-%m-%d}.zip"
