"""Sync-engine test helpers: generated mailboxes whose every message knows its fate.

`realistic_mailbox()` builds, with the stdlib `email` package, the kind of mail a sales
rep really has (threads, HTML-only, multipart/alternative, attachments, inline images,
RFC 2047 and ISO-8859-1 Portuguese headers, internal mail, newsletters, no-reply senders,
a message without Message-ID, a broken one, never-log correspondents). Each `Mail` says
whether the engine must store it (and link which leads, in which direction, in which
thread) or skip it (and for which reason). The rest are small helpers to connect a
Dovecot user as a LeadSync mailbox, run rounds, count IMAP commands and snapshot the
database for before/after comparisons.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.policy
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import imapclient
from flask import Flask
from sqlalchemy import Engine, select, update

from dashboard import create_app
from dashboard.db.engine import read_session, write_session
from dashboard.mail.addresses import canonical_address
from dashboard.mailboxes.service import ConnectionRequest, connect_mailbox
from dashboard.models import (
    Attachment,
    Company,
    Email,
    EmailLead,
    FolderCursor,
    Lead,
    LeadAddress,
    Mailbox,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    SyncLease,
    User,
)
from dashboard.sync.runner import RunOptions, RunResult, run_mailbox
from dashboard.sync.store.leads import refresh_search_text
from dashboard.sync.store.ledger import mark_relink
from tests.support import factories
from tests.support.servers.dovecot import DovecotServer, MailboxUser

PROJECT = Path(__file__).resolve().parents[2]  # where `flask --app dashboard` runs
SENT = "[Gmail]/E-mails enviados"
SMTP = email.policy.SMTP  # CRLF line endings, as mail arrives
STORED = "stored"
_ids = itertools.count(1)


# --- generated mail ---------------------------------------------------------------------


@dataclass
class Mail:
    """One generated message and its expected fate."""

    key: str
    folder: str
    data: bytes
    fate: str  # STORED or a skip reason
    message_id: str | None  # None: the message has no Message-ID header
    sender: str
    subject: str
    when: dt.datetime
    leads: frozenset[str] = frozenset()  # names of the leads it must link to
    direction: str | None = None  # "in" | "out" when stored
    thread: str | None = None  # key of its thread's first message
    flags: tuple[str, ...] = ()
    attachments: tuple[tuple[str, str, str, bool], ...] = ()  # (name, type, section, inline)
    body_has: str = ""  # text the decoded body_text must contain
    references: tuple[str, ...] = ()
    outsiders: tuple[str, ...] = ()  # "no_lead" ledger addresses
    in_window: bool = True
    uid: int = 0  # filled in by append_mails


@dataclass
class Scenario:
    """A generated mailbox: the mail, the leads that exist before the sync, the leads it creates."""

    owner: str
    mails: list[Mail]
    leads: dict[str, tuple[str, ...]]  # lead name -> its addresses (created before syncing)
    created_leads: dict[str, tuple[str, str]] = field(default_factory=dict)  # addr -> (name, state)
    never_log: tuple[str, ...] = ()

    def by_key(self) -> dict[str, Mail]:
        """The mails keyed by their key."""
        return {m.key: m for m in self.mails}

    def synced(self) -> list[Mail]:
        """The mails inside the import window (the ones the engine looks at)."""
        return [m for m in self.mails if m.in_window]

    def expected_skips(self) -> Counter:
        """Skip counts by reason."""
        return Counter(m.fate for m in self.synced() if m.fate != STORED)

    def stored(self) -> list[Mail]:
        """The mails that must become Email rows."""
        return [m for m in self.synced() if m.fate == STORED]


class MailMaker:
    """Builds messages with the stdlib email package; dates count back from `now`."""

    def __init__(self, owner: str, now: dt.datetime | None = None, tag: str = "") -> None:
        self.owner = owner
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.tag = tag or f"t{next(_ids)}"
        self.mails: list[Mail] = []
        self.minutes = 0

    def _when(self, days_ago: float | None) -> dt.datetime:
        """A date in the past; consecutive messages are a few minutes apart, oldest first."""
        if days_ago is not None:
            return self.now - dt.timedelta(days=days_ago)
        self.minutes += 7
        return self.now - dt.timedelta(days=10) + dt.timedelta(minutes=self.minutes)

    def new_id(self, key: str, domain: str = "mail.test") -> str:
        """A Message-ID unique to this generator."""
        return make_msgid(f"{key}.{self.tag}", domain=domain)

    def add(self, mail: Mail) -> Mail:
        """Keep a mail (in the order it will be appended)."""
        self.mails.append(mail)
        return mail

    def message(
        self,
        key: str,
        *,
        sender: str,
        to: Iterable[str],
        fate: str,
        subject: str | None = None,
        cc: Iterable[str] = (),
        bcc: Iterable[str] = (),
        folder: str = "INBOX",
        text: str | None = None,
        html: str | None = None,
        attachments: Iterable[tuple[str, str, bytes]] = (),
        inline_image: bytes | None = None,
        reply_to: Mail | None = None,
        headers: dict[str, str] | None = None,
        leads: Iterable[str] = (),
        direction: str | None = None,
        flags: tuple[str, ...] = (),
        days_ago: float | None = None,
        with_message_id: bool = True,
        outsiders: tuple[str, ...] = (),
        body_has: str = "",
    ) -> Mail:
        """Build one message with the email package and record what must become of it."""
        when = self._when(days_ago)
        subject = subject if subject is not None else f"Assunto {key}"
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        if bcc:
            msg["Bcc"] = ", ".join(bcc)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        message_id = self.new_id(key) if with_message_id else None
        if message_id:
            msg["Message-ID"] = message_id
        references: tuple[str, ...] = ()
        if reply_to is not None:
            references = (*reply_to.references, reply_to.message_id or "")
            msg["In-Reply-To"] = reply_to.message_id
            msg["References"] = " ".join(references)
        for name, value in (headers or {}).items():
            msg[name] = value
        expected_attachments = self._body(msg, text, html, attachments, inline_image)
        thread = (reply_to.thread or reply_to.key) if reply_to else key
        return self.add(
            Mail(
                key, folder, msg.as_bytes(policy=SMTP), fate, message_id,
                _address(sender), subject, when, frozenset(leads),
                direction, thread if fate == STORED else None, flags,
                expected_attachments, body_has, references, outsiders,
                in_window=days_ago is None or days_ago < 25,
            )
        )  # fmt: skip

    def _body(
        self,
        msg: EmailMessage,
        text: str | None,
        html: str | None,
        attachments: Iterable[tuple[str, str, bytes]],
        inline_image: bytes | None,
    ) -> tuple[tuple[str, str, str, bool], ...]:
        """Fill the body; return the (name, type, section, inline) of every attachment."""
        expected = []
        if text is not None:
            msg.set_content(text)
        if html is not None:
            if text is None:
                msg.set_content(html, subtype="html")
            else:
                msg.add_alternative(html, subtype="html")
        if inline_image is not None:
            body = msg.get_body(("html",)) or msg
            body.add_related(
                inline_image, "image", "png", cid="<logo@acme.test>", filename="logo.png",
                disposition="inline",
            )  # fmt: skip
            section = "2" if text is None else "2.2"
            expected.append(("logo.png", "image/png", section, True))
        mixed = msg.get_content_type() == "multipart/mixed"
        first = len(msg.get_payload()) if mixed else 1
        for number, (name, ctype, data) in enumerate(attachments, start=first + 1):
            maintype, subtype = ctype.split("/")
            if maintype == "text":
                msg.add_attachment(data.decode("utf-8"), subtype=subtype, filename=name)
            else:
                msg.add_attachment(data, maintype, subtype, filename=name)
            expected.append((name, ctype, str(number), False))
        return tuple(expected)


def _address(value: str) -> str:
    """The bare lowercased address of "Name <addr>"."""
    match = re.search(r"<([^>]+)>", value)
    return (match.group(1) if match else value).strip().lower()


def raw_message(
    maker: MailMaker,
    key: str,
    *,
    head: str,
    body: bytes,
    fate: str,
    sender: str,
    subject: str,
    folder: str = "INBOX",
    leads: Iterable[str] = (),
    direction: str | None = None,
    with_message_id: bool = True,
    body_has: str = "",
    flags: tuple[str, ...] = (),
) -> Mail:
    """A message written byte by byte (for charsets and breakage the email package prevents)."""
    when = maker._when(None)
    message_id = maker.new_id(key) if with_message_id else None
    lines = [*head.strip().splitlines()]
    if not any(line.lower().startswith("date:") for line in lines):
        lines.append(f"Date: {format_datetime(when)}")
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    data = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body
    return maker.add(
        Mail(
            key, folder, data, fate, message_id, sender, subject, when, frozenset(leads),
            direction, key if fate == STORED else None, flags, body_has=body_has,
        )
    )  # fmt: skip


# Lead names (the labels tests compare) and their addresses.
L1, L2, L3 = "Cliente Um", "João Gonçalves", "Maria Silva"
LEADS = {
    L1: ("cliente@cliente.com.br",),
    L2: ("joao@fornecedor.pt",),
    L3: ("maria@exemplo.com.br", "maria.silva@gmail.test"),
}
COLLEAGUE = "colega@acme.test"
STRANGER = "estranho@desconhecido.test"
FAMILY = "tio@familia.test"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def realistic_mailbox(owner: str, now: dt.datetime | None = None) -> Scenario:
    """A rep's INBOX and Sent under the default policy plus never-log "@familia.test"."""
    m = MailMaker(owner, now)
    me = f"Rep <{owner}>"
    lead1, lead2 = "Cliente Um <cliente@cliente.com.br>", "João Gonçalves <joao@fornecedor.pt>"
    root = m.message(
        "root_in", sender=lead1, to=[me], subject="Orçamento de serviços",
        text="Olá, segue o pedido de orçamento.\n", fate=STORED, leads=[L1], direction="in",
        flags=("\\Seen",), body_has="pedido de orçamento",
    )  # fmt: skip
    raw_message(
        m, "html_only", sender="joao@fornecedor.pt", subject="Sincronização",
        head=f"From: =?ISO-8859-1?Q?Jo=E3o_Gon=E7alves?= <joao@fornecedor.pt>\nTo: {owner}\n"
        "Subject: =?ISO-8859-1?Q?Sincroniza=E7=E3o?=\nMIME-Version: 1.0\n"
        "Content-Type: text/html; charset=ISO-8859-1\nContent-Transfer-Encoding: 8bit",
        body="<html><body><p>Sincronização concluída</p><p>Até logo</p></body></html>\r\n"
        .encode("latin-1"),
        fate=STORED, leads=[L2], direction="in", body_has="Sincronização concluída",
    )  # fmt: skip
    m.message(
        "alternative", sender="Maria Silva <maria@exemplo.com.br>", to=[me],
        subject="Proposta comercial", text="Texto simples da proposta.\n",
        html="<p>Texto <b>rico</b> da proposta.</p>", fate=STORED, leads=[L3], direction="in",
        body_has="Texto simples da proposta.",
    )  # fmt: skip
    m.message(
        "attachments", sender=lead1, to=[me], cc=[COLLEAGUE], subject="Documentos",
        text="Seguem os anexos.\n",
        attachments=[("proposta.pdf", "application/pdf", PDF),
                     ("relatório.txt", "text/plain", "Relatório de visita\n".encode())],
        fate=STORED, leads=[L1], direction="in", body_has="Seguem os anexos.",
    )  # fmt: skip
    m.message(
        "inline_image", sender=lead2, to=[me], subject="Nosso logotipo",
        html='<p>Veja o logo: <img src="cid:logo@acme.test"></p>', inline_image=PNG,
        fate=STORED, leads=[L2], direction="in", body_has="Veja o logo",
    )  # fmt: skip
    visit = m.message(
        "sent_root", folder=SENT, sender=me, to=[lead1], cc=[lead2], subject="Visita técnica",
        text="Podemos visitar na terça?\n", fate=STORED, leads=[L1, L2], direction="out",
        flags=("\\Seen",),
    )  # fmt: skip
    m.message(
        "reply_in", sender=lead1, to=[me], subject="Re: Visita técnica", reply_to=visit,
        text="Terça está ótimo.\n", fate=STORED, leads=[L1], direction="in",
    )  # fmt: skip
    m.message(
        "internal", sender=f"Colega <{COLLEAGUE}>", to=[me], subject="Almoço de equipe",
        text="Vamos?\n", fate="internal",
    )  # fmt: skip
    m.message(
        "newsletter", sender="Loja <news@loja.test>", to=[me], subject="Ofertas da semana",
        html="<p>Promoções</p>", fate="automated",
        headers={"List-Unsubscribe": "<mailto:unsub@loja.test>", "Precedence": "bulk"},
    )  # fmt: skip
    m.message(
        "no_reply", sender="Banco <no-reply@banco.test>", to=[me], subject="Seu extrato",
        text="Extrato disponível.\n", fate="automated", flags=("\\Seen", "\\Flagged"),
    )  # fmt: skip
    m.message(
        "no_message_id", sender="Maria <maria.silva@gmail.test>", to=[me],
        subject="Sem identificador", text="Mensagem sem Message-ID.\n", with_message_id=False,
        fate=STORED, leads=[L3], direction="in", body_has="Mensagem sem Message-ID.",
    )  # fmt: skip
    raw_message(
        m, "broken", sender="cliente@cliente.com.br", subject="Arquivo quebrado",
        head=f"From: Cliente Um <cliente@cliente.com.br>\nTo: {owner}\n"
        "Subject: Arquivo quebrado\nDate: Thu, 31 Feb 2024 25:61:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="x-no-such-charset"\n'
        "Content-Transfer-Encoding: base64",
        body=b"T2zDoSwgbXVuZG8h!!*** not base64 ***\r\nQ29uc\r\n",
        fate=STORED, leads=[L1], direction="in",
    )  # fmt: skip
    m.message(
        "stranger", sender=f"Estranho <{STRANGER}>", to=[me], subject="Pergunta",
        text="Vocês atendem em Porto?\n", fate="no_lead", outsiders=(STRANGER,),
    )  # fmt: skip
    m.message(
        "never_log_in", sender=f"Tio <{FAMILY}>", to=[me], subject="Churrasco domingo",
        text="Traz a carne.\n", fate="never_log",
    )  # fmt: skip
    m.message(
        "case_and_tag", sender="CLIENTE+compras@Cliente.COM.br", to=[me],
        subject="Pedido de compra", text="Segue pedido.\n", fate=STORED, leads=[L1],
        direction="in",
    )  # fmt: skip
    reply = m.message(
        "sent_reply", folder=SENT, sender=me, to=[lead1], subject="Re: Orçamento de serviços",
        reply_to=root, text="Segue o orçamento.\n", fate=STORED, leads=[L1], direction="out",
    )  # fmt: skip
    m.message(
        "reply_reply", sender=lead1, to=[me], cc=[COLLEAGUE], reply_to=reply,
        subject="Re: Orçamento de serviços", text="Obrigado!\n", fate=STORED, leads=[L1],
        direction="in",
    )  # fmt: skip
    m.message(
        "auto_reply_lead", sender=lead2, to=[me], subject="Ausente: Visita técnica",
        text="Estou de férias.\n", headers={"Auto-Submitted": "auto-replied"},
        fate=STORED, leads=[L2], direction="in",
    )  # fmt: skip
    m.message(
        "old", sender=lead1, to=[me], subject="Mensagem antiga", text="Antiga.\n",
        days_ago=90, fate="outside_window",
    )  # fmt: skip
    m.message(
        "sent_new_person", folder=SENT, sender=me, to=["Novo Cliente <novo@prospect.test>"],
        subject="Apresentação", text="Prazer em conhecer.\n", fate=STORED,
        leads=["Novo Cliente"], direction="out",
    )  # fmt: skip
    m.message(
        "sent_internal", folder=SENT, sender=me, to=[COLLEAGUE], subject="Relatório",
        text="Segue.\n", fate="internal",
    )  # fmt: skip
    m.message(
        "sent_never_log_and_lead", folder=SENT, sender=me, to=[lead2], cc=[FAMILY],
        subject="Convite", text="Convite.\n", fate=STORED, leads=[L2], direction="out",
    )  # fmt: skip
    m.message(
        "sent_never_log", folder=SENT, sender=me, to=[FAMILY], subject="Domingo",
        text="Levo a sobremesa.\n", fate="never_log",
    )  # fmt: skip
    m.message(
        "sent_bcc_lead", folder=SENT, sender=me, to=[COLLEAGUE], bcc=["maria@exemplo.com.br"],
        subject="Cópia oculta", text="Bcc.\n", fate=STORED, leads=[L3], direction="out",
    )  # fmt: skip
    m.message(
        "sent_to_noreply", folder=SENT, sender=me, to=["noreply@loja.test"],
        subject="Cancelar assinatura", text="Cancelar.\n", fate="no_lead",
        outsiders=("noreply@loja.test",),
    )  # fmt: skip
    return Scenario(
        owner,
        m.mails,
        dict(LEADS),
        {"novo@prospect.test": ("Novo Cliente", "active")},
        never_log=("@familia.test",),
    )


# An HTML-only message whose markup makes the standard library's HTMLParser raise
# AssertionError ("unknown status keyword 'foo' in marked section"): a real input that
# raises a type the sync never expected. Before, it aborted the whole round, every round.
HOSTILE_HTML = b"<html><body><p>Oi</p><![foo[ x ]]><p>tchau</p></body></html>\r\n"


def simple_mail(
    maker: MailMaker, key: str, *, sender: str, to: str, fate: str, folder: str = "INBOX",
    leads: Iterable[str] = (), direction: str | None = None, body: str = "Olá.\n",
) -> Mail:  # fmt: skip
    """A small text message."""
    return maker.message(
        key, sender=sender, to=[to], fate=fate, folder=folder, text=body, leads=leads,
        direction=direction,
    )  # fmt: skip


# --- Dovecot -----------------------------------------------------------------------------


def plain_email(sender: str, to: str, subject: str = "Orçamento") -> bytes:
    """A small plain email from yesterday whose text names neither person nor company."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    msg["Message-ID"] = make_msgid(domain="mail.test")
    msg.set_content("Bom dia, segue o pedido.\n")
    return msg.as_bytes()


def append_mails(user: MailboxUser, mails: Iterable[Mail]) -> None:
    """Append mails over one connection (in order), filling in their UIDs."""
    with user.connect() as client:
        for mail in mails:
            answer = client.append(mail.folder, mail.data, flags=mail.flags, msg_time=mail.when)
            found = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer or b"")
            assert found, answer
            mail.uid = int(found.group(1))


def multiappend(user: MailboxUser, folder: str, messages: list[bytes], chunk: int = 250) -> None:
    """Append many messages quickly (MULTIAPPEND, a few hundred per command)."""
    with user.connect() as client:
        for start in range(0, len(messages), chunk):
            client.multiappend(folder, messages[start : start + chunk])


def server_flags(user: MailboxUser, folder: str) -> dict[int, set[bytes]]:
    """UID -> flags, read without changing anything."""
    with user.connect() as client:
        client.select_folder(folder, readonly=True)
        return {
            uid: set(d[b"FLAGS"])
            for uid, d in client.fetch(client.search("ALL"), ["FLAGS"]).items()
        }


# --- LeadSync app and data ----------------------------------------------------------------


def fresh_app(directory: Path, migrated_db: Path, ca_file: str) -> Flask:
    """An app on its own instance folder and database copy (like conftest's `app`)."""
    instance = directory / "instance"
    instance.mkdir(mode=0o700, parents=True)
    shutil.copyfile(migrated_db, instance / "leadsync.db")
    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "IMAP_CA_FILE": ca_file})


def set_company(engine: Engine, **values: object) -> None:
    """Change company settings directly (the sync re-reads them every round)."""
    with write_session(engine) as session:
        company = session.scalars(select(Company)).one()
        for name, value in values.items():
            setattr(company, name, value)
        session.add(company)


def make_lead(engine: Engine, name: str, *addresses: str, state: str = "active") -> int:
    """A lead with addresses (canonical), as the lead pages create it; returns its id."""
    with write_session(engine) as session:
        lead = Lead(name=name, state=state)
        session.add(lead)
        session.flush()
        for address in addresses:
            session.add(LeadAddress(lead_id=lead.id, address=canonical_address(address)))
        refresh_search_text(session, [lead.id])
        return lead.id


def add_lead_and_relink(engine: Engine, name: str, *addresses: str) -> int:
    """Create a lead and flag its past "no lead" mail, as the lead pages will."""
    lead_id = make_lead(engine, name, *addresses)
    with write_session(engine) as session:
        mark_relink(session, addresses)
    return lead_id


def connect(app: Flask, user: MailboxUser, *, port: int | None = None) -> int:
    """Make a LeadSync user for a Dovecot user and connect the mailbox for real (through
    another local port, e.g. a relay, when given); return the mailbox id."""
    engine = app.extensions["leadsync.engine"]
    factories.make_user(engine, email=user.address)
    server: DovecotServer = user.server
    request = ConnectionRequest(
        "other", user.address, user.password, "", server.host, port or server.port, "tls"
    )
    with app.app_context(), write_session(engine) as session:
        owner = session.scalars(select(User).where(User.email == user.address)).one()
        mailbox = connect_mailbox(
            session, user=owner, request=request, box=app.extensions["leadsync.secrets"],
            ca_file=server.ca_file, timeout=10.0,
        )  # fmt: skip
        return mailbox.id


def sync(app: Flask, mailbox_id: int, **options: object) -> RunResult:
    """One run of one mailbox, single connection by default."""
    values: dict = {"ca_file": app.config["IMAP_CA_FILE"], "connections": 1, "timeout": 10.0}
    values.update(options)
    return run_mailbox(
        app.extensions["leadsync.engine"], mailbox_id, app.extensions["leadsync.secrets"],
        RunOptions(**values),
    )  # fmt: skip


def prepare(app: Flask, scenario: Scenario) -> None:
    """Company settings and pre-existing leads of a scenario."""
    engine = app.extensions["leadsync.engine"]
    set_company(engine, never_log=list(scenario.never_log))
    for name, addresses in scenario.leads.items():
        make_lead(engine, name, *addresses)


def expire_lease(engine: Engine, mailbox_id: int) -> None:
    """Make a (dead process's) lease look expired."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with write_session(engine) as session:
        session.execute(
            update(SyncLease).where(SyncLease.mailbox_id == mailbox_id).values(expires_at=past)
        )


def set_mailbox(engine: Engine, mailbox_id: int, **values: object) -> None:
    """Edit a mailbox row directly."""
    with write_session(engine) as session:
        session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(**values))


def mailbox_row(engine: Engine, mailbox_id: int) -> Mailbox:
    """A fresh copy of a mailbox row."""
    with read_session(engine) as session:
        return session.get(Mailbox, mailbox_id)


# --- reading the outcome -----------------------------------------------------------------


def email_for(session, mail: Mail) -> Email | None:  # type: ignore[no-untyped-def]
    """The Email row of a generated mail (by Message-ID, or by subject when it has none)."""
    if mail.message_id:
        query = select(Email).where(Email.message_id == mail.message_id)
    else:
        query = select(Email).where(Email.subject == mail.subject, Email.synthetic_id)
    return session.scalars(query).first()


def lead_names(session, email_id: int) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """Names of the leads an email is linked to."""
    rows = session.scalars(
        select(Lead.name)
        .join(EmailLead, EmailLead.lead_id == Lead.id)
        .where(EmailLead.email_id == email_id)
    )
    return frozenset(rows)


def ledger(engine: Engine, mailbox_id: int | None = None) -> dict[tuple[str, int], str]:
    """(folder, uid) -> reason of every skip-ledger row."""
    with read_session(engine) as session:
        query = select(SkippedMessage)
        if mailbox_id is not None:
            query = query.where(SkippedMessage.mailbox_id == mailbox_id)
        return {(s.folder, s.uid): s.reason for s in session.scalars(query)}


def count_rows(engine: Engine, model: type) -> int:
    """Number of rows of a table."""
    with read_session(engine) as session:
        return len(session.scalars(select(model)).all())


def snapshot(engine: Engine) -> dict[str, list]:
    """Everything the sync writes, by natural keys (comparable across databases)."""
    with read_session(engine) as s:
        emails = {e.id: e for e in s.scalars(select(Email))}
        ident = {i: (e.message_id, e.sender) for i, e in emails.items()}
        lead_addr = {
            lead_id: tuple(sorted(s.scalars(select(LeadAddress.address).where(
                LeadAddress.lead_id == lead_id))))
            for lead_id in s.scalars(select(Lead.id))
        }  # fmt: skip
        skipped_addresses = {
            (row.skipped_id, row.address) for row in s.scalars(select(SkippedAddress))
        }
        skips = list(s.scalars(select(SkippedMessage)))
        return {
            "emails": sorted(
                (*ident[i], e.thread_key, e.direction, e.subject, e.body_text)
                for i, e in emails.items()
            ),
            "sightings": sorted(
                (*ident[x.email_id], x.folder, x.uidvalidity, x.uid)
                for x in s.scalars(select(Sighting))
            ),
            "links": sorted(
                (*ident[x.email_id], lead_addr[x.lead_id]) for x in s.scalars(select(EmailLead))
            ),
            "leads": sorted(
                (lead.name, lead.state, lead.source, lead_addr[lead.id])
                for lead in s.scalars(select(Lead))
            ),
            "attachments": sorted(
                (*ident[a.email_id], a.filename, a.section) for a in s.scalars(select(Attachment))
            ),
            "ledger": sorted(
                (
                    k.folder,
                    k.uidvalidity,
                    k.uid,
                    k.reason,
                    k.relink,
                    tuple(sorted(k.addresses)),
                    tuple(sorted(a for i, a in skipped_addresses if i == k.id)),
                )
                for k in skips
            ),  # fmt: skip
            "cursors": sorted(
                (c.folder, c.uidvalidity, c.last_uid) for c in s.scalars(select(FolderCursor))
            ),
        }


# --- counting IMAP commands --------------------------------------------------------------


@dataclass
class CommandLog:
    """IMAP commands issued through imapclient while the log was active."""

    calls: list[tuple[str, tuple, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> int:
        """How many times a command was issued."""
        return sum(1 for called, _, _ in self.calls if called == name)

    def args(self, name: str) -> list[tuple]:
        """The arguments of each call of a command."""
        return [args for called, args, _ in self.calls if called == name]

    def fetched(self) -> list[tuple[str | None, list[int], list[str]]]:
        """(folder, UIDs, items) of every FETCH."""
        return [(folder, list(args[0]), list(args[1])) for called, args, folder in self.calls
                if called == "fetch"]  # fmt: skip


@contextlib.contextmanager
def imap_commands(monkeypatch, names=("fetch", "search", "select_folder")) -> Iterator[CommandLog]:  # type: ignore[no-untyped-def]
    """Record every call of some IMAPClient methods (all threads, all connections), with the
    folder selected on that connection at the time; monkeypatch restores them at teardown."""
    log = CommandLog()
    for name in names:
        original = getattr(imapclient.IMAPClient, name)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            if _name == "select_folder":
                self._test_folder = args[0]
            with log.lock:
                log.calls.append((_name, args, getattr(self, "_test_folder", None)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(imapclient.IMAPClient, name, wrapper)
    yield log


# --- a loopback relay that can cut the connection -----------------------------------------


class CuttingRelay:
    """Forwards 127.0.0.1:port to an upstream port; cuts both sockets after `limit` bytes
    from the server (per connection) when a limit is set; holds the server's bytes while
    `gate` is cleared (a stalled server). Raw bytes: TLS passes through and still verifies."""

    def __init__(self, upstream_port: int, limit: int | None = None) -> None:
        self.upstream_port, self.limit = upstream_port, limit
        self.gate = threading.Event()
        self.gate.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        """Accept clients until closed; one pair of pump threads each."""
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets += [client, server]
            budget = [self.limit]
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, budget), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: list | None) -> None:
        """Copy bytes one way; with a budget, stop and close both ends when it runs out."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if budget is not None:
                    self.gate.wait()
                if budget is not None and budget[0] is not None:
                    if len(data) >= budget[0]:
                        dst.sendall(data[: budget[0]])
                        self.cuts += 1
                        break
                    budget[0] -= len(data)
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        """Stop accepting and drop every open connection."""
        self.closed = True
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def bulk_messages(owner: str, lead: str, count: int, tag: str) -> list[bytes]:
    """Small messages, every other one from a lead (stored), the rest from strangers."""
    out = []
    for i in range(count):
        sender = lead if i % 2 == 0 else f"pessoa{i}@desconhecido.test"
        out.append(
            (
                f"From: {sender}\r\nTo: {owner}\r\nSubject: Mensagem {i}\r\n"
                f"Date: Mon, 2 Feb 2026 10:00:00 +0000\r\nMessage-ID: <{tag}.{i}@bulk.test>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Olá, mensagem número {i}.\r\n"
            ).encode()
        )
    return out


def cli(instance: str, ca_file: str, *args: str) -> subprocess.Popen:
    """Start `flask --app dashboard sync --once ...` as its own process."""
    env = {**os.environ, "LEADSYNC_INSTANCE": instance, "LEADSYNC_IMAP_CA_FILE": ca_file}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "dashboard", "sync", "--once", *args],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def connect_with_cli(app, user, port: int | None = None) -> None:  # type: ignore[no-untyped-def]
    """`flask accounts add ... --password-stdin`, exactly as an operator would."""
    factories.make_user(app.extensions["leadsync.engine"], email=user.address)
    server = user.server
    result = app.test_cli_runner().invoke(
        args=["accounts", "add", "--owner", user.address, "--provider", "other",
              "--address", user.address, "--host", server.host,
              "--port", str(port or server.port), "--security", "tls", "--password-stdin"],
        input=user.password + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
