"""Deterministic LeadSync database for the web benchmark (issue 5), cached under bench/out/.

`build(leads, emails, seed)` returns the path of a finished instance folder (leadsync.db,
secret_key, fernet.key, meta.json) holding:

- a company (acme.test), an admin and REPS sales reps, each with a Mailbox (secret None:
  the scheduler never syncs it) and the Sightings of the emails synced from it;
- `leads` leads (1-2 addresses, company, owner, 80% created by sync, 1% waiting in the
  review queue), their email counts skewed (a few big accounts, many small ones, ~6% with
  no email at all) and one lead (the "big lead", owned by rep 1) with exactly 2,000 emails;
- `emails` emails in threads of 1-10 messages, directions mixed, Portuguese (60%) or
  English (40%) bodies of 0.5-5 KB of text (replies quote the previous message), 30% with
  an HTML version too (remote images and all), 1-4 recipients, 5% involving a second lead,
  12% also seen in a teammate's mailbox, attachment rows on 20% of them;
- a rare word ("pluviômetro") in a few hundred email bodies, for the full-text search.

Rows are inserted with SQLAlchemy Core executemany in a few big transactions (the FTS5
triggers index subject and body as they go), then `store.leads.refresh_stats` fills the lead
summaries. `Lead.search_text` comes from `dashboard.leads.text.lead_search_text`.
The result is keyed by (leads, emails, seed, generator version): reruns reuse it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import mailgen  # noqa: E402  (the sync benchmark's names; this data set adds more)

GENERATOR_VERSION = 1
REPS = 6
BIG_LEAD_EMAILS = 2000
RARE_WORD = "pluviômetro"  # searched as "pluviometro": accents folded
RARE_EMAILS = 300
PASSWORD = "Bench-Senha-9k2Lq"
ADMIN = ("Admin Bench", "admin@acme.test")
REP_NAMES = [
    "Ricardo Almeida", "Fernanda Costa", "Paulo Mendes", "Juliana Rocha", "Marcelo Dias",
    "Carla Nunes", "Eduardo Pires", "Renata Freitas",
]  # fmt: skip
COMPANY_DOMAIN = "acme.test"
SPAN_DAYS = 700  # the history ends on the day the database is built
SENT_FOLDER = "[Gmail]/E-mails enviados"

FIRST = [
    *mailgen.FIRST,
    "Daniel", "Laura", "Pedro", "Camila", "Rafael", "Larissa", "Gustavo", "Aline", "Felipe",
    "Michael", "Sarah", "David", "Emily", "James", "Olivia", "Robert", "Emma", "Thomas",
]  # fmt: skip
LAST = [
    *mailgen.LAST,
    "Oliveira", "Santos", "Ferreira", "Barbosa", "Moreira", "Cardoso", "Teixeira", "Correia",
    "Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Clark",
]  # fmt: skip
COMPANY_WORDS = [
    *mailgen.COMPANY_WORDS,
    "Industries", "Solutions", "Foods", "Systems", "Energia", "Papéis", "Química", "Móveis",
]  # fmt: skip
PLACES = [
    *mailgen.PLACES,
    "Pacific", "Northern", "Lakeside", "Redwood", "Capital", "Continental", "Aurora",
]  # fmt: skip
CITIES = [
    "Campinas", "São Paulo", "Curitiba", "Belo Horizonte", "Porto Alegre", "Recife",
    "Salvador", "Florianópolis", "Goiânia", "Manaus", "Ribeirão Preto", "Joinville",
]  # fmt: skip
PRODUCTS = [
    "válvula de esfera", "compressor industrial", "sensor de pressão", "painel elétrico",
    "bomba centrífuga", "inversor de frequência", "redutor de velocidade", "motor trifásico",
    "flow meter", "heat exchanger", "control panel", "pressure sensor", "gear motor",
]  # fmt: skip
TOPICS_PT = [
    "Proposta comercial", "Cotação de preços", "Reunião de alinhamento", "Contrato de serviço",
    "Pedido de compra", "Orçamento revisado", "Prazo de entrega", "Nota fiscal",
    "Condições de pagamento", "Renovação anual", "Visita técnica", "Apresentação do produto",
    "Sincronização de estoque", "Treinamento da equipe", "Garantia estendida",
]  # fmt: skip
TOPICS_EN = [
    "Commercial proposal", "Price quote", "Follow-up meeting", "Service agreement",
    "Purchase order", "Revised budget", "Delivery schedule", "Invoice", "Payment terms",
    "Annual renewal", "Site visit", "Product demo", "Pilot project", "Support contract",
]  # fmt: skip
SENTENCES_PT = [
    "Conforme conversamos ontem, segue a proposta atualizada com os valores revisados.",
    "Gostaríamos de agendar uma reunião na próxima semana para discutir os próximos passos.",
    "A equipe técnica já analisou a documentação e não encontrou nenhuma pendência.",
    "Por favor, confirme se as condições de pagamento em {n} parcelas estão de acordo.",
    "O prazo de entrega estimado é de {n} dias úteis após a aprovação do pedido {order}.",
    "Estamos à disposição para esclarecer qualquer dúvida sobre a cotação enviada.",
    "A nota fiscal {nf} será emitida assim que recebermos a confirmação do pagamento.",
    "Anexo o contrato revisado com as alterações solicitadas pelo departamento jurídico.",
    "Nossa diretoria aprovou o orçamento, mas pediu um desconto adicional de {n} por cento.",
    "Infelizmente houve um atraso na produção e precisaremos reagendar a instalação.",
    "Agradecemos a preferência e ficamos no aguardo do seu retorno até sexta-feira.",
    "Você poderia enviar a planilha com as quantidades por filial e o endereço de entrega?",
    "A visita técnica ficou marcada para {day} às {h}h, na unidade de {city}.",
    "Segue em anexo a apresentação institucional e o catálogo de produtos atualizado.",
    "O pagamento de R$ {amount} foi efetuado hoje pela manhã; o comprovante segue em anexo.",
    "Precisamos também da certidão negativa de débitos para concluir o cadastro.",
    "O {product} modelo {model} está disponível em estoque para pronta entrega.",
    "Tivemos um problema na sincronização do pedido {order} com o nosso sistema.",
    "Falei com {first} do financeiro e ela confirmou o recebimento da fatura.",
    "Seria possível incluir o frete para {city} no valor total da proposta?",
    "A manutenção preventiva do {product} deve ser feita a cada {n} meses.",
    "Ficamos muito satisfeitos com o atendimento da equipe na última visita.",
]  # fmt: skip
SENTENCES_EN = [
    "As discussed yesterday, please find attached the updated proposal with revised prices.",
    "Could we schedule a call next week to go over the next steps?",
    "Our technical team reviewed the documents and found no open issues.",
    "Please confirm that payment in {n} installments works for you.",
    "Estimated delivery is {n} business days after purchase order {order} is approved.",
    "Let me know if you have any questions about the quote we sent.",
    "Invoice {nf} will be issued as soon as we receive the payment confirmation.",
    "I attached the revised contract with the changes requested by your legal department.",
    "Our board approved the budget but asked for an additional {n} percent discount.",
    "Unfortunately production is delayed and we need to reschedule the installation.",
    "Thanks for your business; we look forward to hearing from you by Friday.",
    "Could you send the spreadsheet with quantities per branch and the delivery address?",
    "The site visit is set for {day} at {h} o'clock at the {city} plant.",
    "The {product} model {model} is in stock and can ship right away.",
    "We had an issue syncing order {order} with our ERP system.",
    "I spoke with {first} from accounting and she confirmed the invoice was received.",
    "Would it be possible to include freight to {city} in the total price?",
    "A payment of USD {amount} was wired this morning; the receipt is attached.",
]  # fmt: skip
DAYS_PT = ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira"]
DAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
ATTACHMENTS = [
    ("application/pdf", "Proposta comercial {n}.pdf"),
    ("application/pdf", "Cotação nº {n}.pdf"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Orçamento {n}.xlsx"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "Contrato revisão {n}.docx"),
    ("image/jpeg", "foto_instalação_{n}.jpg"),
    ("image/png", "image00{n}.png"),
    ("application/pdf", "NF-e {n}.pdf"),
]  # fmt: skip


def schema_fingerprint() -> str:
    """A hash of the migrations: a cached database built on another schema is rebuilt."""
    import hashlib

    digest = hashlib.sha256()
    versions = sorted((ROOT / "dashboard" / "db" / "migrations" / "versions").glob("*.py"))
    assert versions, "no migrations found: the fingerprint would never change"
    for path in versions:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def cache_dir(leads: int, emails: int, seed: int) -> Path:
    """Where the instance built for these parameters (and this schema) lives."""
    return OUT / f"web-v{GENERATOR_VERSION}-l{leads}-e{emails}-s{seed}-{schema_fingerprint()}"


def ascii_local(text: str) -> str:
    """An address-friendly version of a name."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in folded if c.isalnum() and c.isascii())
    return kept.lower()


class Writer:
    """Makes bodies: sentences with varied slots, so the FTS vocabulary is not tiny."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sentence(self, pt: bool) -> str:
        rng = self.rng
        template = rng.choice(SENTENCES_PT if pt else SENTENCES_EN)
        if "{" not in template:
            return template
        return template.format(
            n=rng.randint(2, 45),
            order=f"PC-{rng.randint(10000, 99999)}",
            nf=f"{rng.randint(1000, 999999)}",
            day=rng.choice(DAYS_PT if pt else DAYS_EN),
            h=rng.randint(8, 17),
            city=rng.choice(CITIES),
            amount=f"{rng.randint(1, 900)}.{rng.randint(0, 999):03d},{rng.randint(0, 99):02d}",
            product=rng.choice(PRODUCTS),
            model=f"{rng.choice('ABCDEFGHKLMXZ')}{rng.randint(100, 9999)}",
            first=rng.choice(FIRST),
        )

    def text(self, pt: bool, target: int, greeting: str, signature: str) -> str:
        """About `target` characters of business prose in paragraphs."""
        parts = [greeting, ""]
        size = len(greeting) + len(signature)
        while size < target:
            paragraph = " ".join(self.sentence(pt) for _ in range(self.rng.randint(2, 5)))
            parts.extend([paragraph, ""])
            size += len(paragraph) + 2
        parts.append(signature)
        return "\n".join(parts)


def html_of(text: str, sender_name: str, rng: random.Random) -> str:
    """The HTML alternative of a body: paragraphs, quotes, a signature with remote images."""
    out = []
    quote: list[str] = []
    for line in text.split("\n"):
        if line.startswith(">"):
            quote.append(line[1:].strip())
            continue
        if quote:
            out.append(
                '<blockquote style="margin:0 0 0 .8ex;border-left:1px #ccc solid">'
                + "<br>".join(quote)
                + "</blockquote>"
            )
            quote = []
        if line:
            out.append(f'<p style="font-family:Arial,sans-serif;font-size:13px">{line}</p>')
    if quote:
        out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
    pixel = f"https://t.mailtrack.example/open/{rng.getrandbits(64):x}.gif"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>p{margin:0 0 1em}</style>'
        '</head><body><div dir="ltr">'
        + "\n".join(out)
        + f'<table><tr><td><img src="https://cdn.example.com/logo.png" width="120"></td>'
        f"<td><b>{sender_name}</b></td></tr></table>"
        f'<img src="{pixel}" width="1" height="1" alt=""></div></body></html>'
    )


def body_target(rng: random.Random) -> int:
    """Characters of new text in one email: log-normal, 0.4-4.5 KB before quoting."""
    return int(min(4500, max(400, rng.lognormvariate(math.log(1200), 0.6))))


def email_counts(rng: random.Random, leads: int, emails: int, big_index: int) -> list[int]:
    """Emails per lead: skewed, some leads with none, exactly BIG_LEAD_EMAILS for one."""
    big = min(BIG_LEAD_EMAILS, emails)
    rest = emails - big
    weights = [
        0.0 if (i == big_index or rng.random() < 0.06) else rng.lognormvariate(0, 1.1)
        for i in range(leads)
    ]
    total = sum(weights) or 1.0
    counts = [min(big - 1, int(w / total * rest)) for w in weights]
    counts[big_index] = 0
    short = rest - sum(counts)
    candidates = [i for i, w in enumerate(weights) if w > 0]
    while short > 0:
        i = rng.choice(candidates)
        if counts[i] < big - 1:
            counts[i] += 1
            short -= 1
    counts[big_index] = big
    return counts


def thread_sizes(rng: random.Random, count: int) -> list[int]:
    """Split a lead's emails into threads of 1-10 messages."""
    sizes = []
    while count > 0:
        size = min(count, rng.choices(range(1, 11), [22, 20, 15, 11, 9, 7, 6, 4, 3, 3])[0])
        sizes.append(size)
        count -= size
    return sizes


def generate(leads: int, emails: int, seed: int):  # type: ignore[no-untyped-def]  # noqa: C901, PLR0915
    """Yield ("lead"|"email", rows...) in batches: plain dicts ready for executemany."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=SPAN_DAYS)
    writer = Writer(rng)
    rep_ids = list(range(2, 2 + REPS))  # user 1 is the admin
    rep_address = {uid: f"rep{uid - 1}@{COMPANY_DOMAIN}" for uid in rep_ids}
    rep_name = {uid: REP_NAMES[(uid - 2) % len(REP_NAMES)] for uid in rep_ids}
    mailbox_of = {uid: uid - 1 for uid in rep_ids}  # mailbox ids 1..REPS
    big_index = 0

    # Leads: companies with a few contacts each.
    lead_rows, address_rows = [], []
    lead_addresses: list[list[str]] = []
    lead_names: list[str] = []
    companies: list[tuple[str, str]] = []
    for c in range(max(1, leads // 3)):
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(PLACES)}"
        domain = (
            f"{ascii_local(name)}{c}.com.br"
            if rng.random() < 0.7
            else f"{ascii_local(name)}{c}.com"
        )
        companies.append((name, domain))
    from dashboard.leads.text import lead_search_text

    address_id = 0
    for i in range(leads):
        lead_id = i + 1
        company, domain = rng.choice(companies)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        local = f"{ascii_local(first)}.{ascii_local(last)}{lead_id}"
        addresses = [f"{local}@{domain}"]
        if rng.random() < 0.1:
            addresses.append(f"{ascii_local(first)}{lead_id}@gmail.com")
        owner = rep_ids[0] if i == big_index else rng.choice(rep_ids)
        created = start + timedelta(days=rng.uniform(0, SPAN_DAYS - 30))
        state = "suggested" if (i != big_index and rng.random() < 0.01) else "active"
        lead_rows.append(
            {
                "id": lead_id,
                "name": name,
                "company_name": company,
                "phone": f"+55 11 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
                if rng.random() < 0.5
                else "",
                "owner_id": owner,
                "source": "sync" if rng.random() < 0.8 else "manual",
                "state": state,
                "created_at": created,
                "search_text": lead_search_text(name, company, addresses),
            }
        )
        for address in addresses:
            address_id += 1
            address_rows.append(
                {"id": address_id, "lead_id": lead_id, "address": address, "created_at": created}
            )
        lead_addresses.append(addresses)
        lead_names.append(name)
    yield "leads", lead_rows, address_rows

    counts = email_counts(rng, leads, emails, big_index)
    rare = set(rng.sample(range(1, emails + 1), min(RARE_EMAILS, emails)))
    uid_next: dict[tuple[int, str], int] = {}
    email_id = 0
    attachment_id = 0
    batch: dict[str, list] = {"email": [], "emaillead": [], "sighting": [], "attachment": []}
    order = list(range(leads))
    rng.shuffle(order)  # emails of different leads interleave in id order, as sync makes them

    def place(mailbox: int, folder: str) -> int:
        key = (mailbox, folder)
        uid_next[key] = uid_next.get(key, 0) + 1
        return uid_next[key]

    for i in order:
        count = counts[i]
        if not count:
            continue
        lead_id = i + 1
        owner = lead_rows[i]["owner_id"]
        contact_name, contact = lead_names[i], lead_addresses[i][0]
        for size in thread_sizes(rng, count):
            pt = rng.random() < 0.6
            topic = rng.choice(TOPICS_PT if pt else TOPICS_EN)
            subject = f"{topic} – {lead_rows[i]['company_name']}"
            rep = owner if rng.random() < 0.85 else rng.choice(rep_ids)
            gmail = rng.random() < 0.7
            thrid = rng.getrandbits(62)
            when = start + timedelta(days=rng.uniform(0, SPAN_DAYS - 41))
            outbound = rng.random() < 0.7
            second = None
            if i != big_index and rng.random() < 0.05:
                j = rng.randrange(leads)
                if j not in (i, big_index):
                    second = j
            teammate = rng.choice(rep_ids) if rng.random() < 0.12 else None
            previous_text, previous_id, references = "", None, []
            root_id = None
            for k in range(size):
                email_id += 1
                host = COMPANY_DOMAIN if outbound else contact.split("@")[1]
                message_id = f"<{rng.getrandbits(80):020x}.{email_id}@mail.{host}>"
                root_id = root_id or message_id
                if outbound:
                    sender, from_name = rep_address[rep], rep_name[rep]
                    to = [contact]
                else:
                    sender, from_name = contact, contact_name
                    to = [rep_address[rep]]
                cc = []
                if second is not None:
                    cc.append(lead_addresses[second][0])
                extra = rng.choices([0, 1, 2], [60, 28, 12])[0]
                for _ in range(extra):
                    if len(to) + len(cc) >= 4:
                        break
                    if rng.random() < 0.5 and teammate:
                        cc.append(rep_address[teammate])
                    else:
                        colleague = f"{ascii_local(rng.choice(FIRST))}.{rng.randint(1, 999)}"
                        cc.append(f"{colleague}@{contact.split('@')[1]}")
                greeting = (
                    (
                        f"Olá {contact_name.split()[0]},"
                        if outbound
                        else f"Oi {rep_name[rep].split()[0]},"
                    )
                    if pt
                    else (
                        f"Hi {contact_name.split()[0]},"
                        if outbound
                        else f"Hello {rep_name[rep].split()[0]},"
                    )
                )
                signature = f"{'Atenciosamente' if pt else 'Best regards'},\n{from_name}"
                text = writer.text(pt, body_target(rng), greeting, signature)
                if email_id in rare:
                    text = text.replace(
                        ". ",
                        f". O {RARE_WORD} chegou. " if pt else f". The {RARE_WORD} arrived. ",
                        1,
                    )
                if previous_text and rng.random() < 0.8:
                    said = "Em" if pt else "On"
                    quoted = "\n".join("> " + line for line in previous_text.split("\n"))
                    room = max(0, 5000 - len(text) - 60)
                    text = f"{text}\n\n{said} {when:%d/%m/%Y %H:%M}:\n{quoted[:room]}"
                html = html_of(text, from_name, rng) if rng.random() < 0.3 else ""
                files = []
                if rng.random() < 0.2:
                    for n in range(rng.choices([1, 2, 3], [70, 22, 8])[0]):
                        attachment_id += 1
                        mime, pattern = rng.choice(ATTACHMENTS)
                        files.append(
                            {
                                "id": attachment_id,
                                "email_id": email_id,
                                "filename": pattern.format(n=rng.randint(1, 9999)),
                                "content_type": mime,
                                "size": int(rng.lognormvariate(math.log(180_000), 1.0)),
                                "section": str(n + 2),
                                "encoding": "base64",
                                "content_id": None,
                                "inline": False,
                            }
                        )
                batch["attachment"].extend(files)
                batch["email"].append(
                    {
                        "id": email_id,
                        "message_id": message_id,
                        "sender": sender,
                        "synthetic_id": False,
                        "thread_key": f"gm:{thrid}" if gmail else root_id,
                        "gm_msgid": rng.getrandbits(62) if gmail else None,
                        "gm_thrid": thrid if gmail else None,
                        "subject": subject
                        if k == 0
                        else f"{'Re' if not pt else rng.choice(['Re', 'RES'])}: {subject}",
                        "date": when,
                        "from_name": from_name,
                        "to_addrs": to,
                        "cc_addrs": cc,
                        "bcc_addrs": [],
                        "in_reply_to": previous_id,
                        "references": list(references),
                        "direction": "out" if outbound else "in",
                        "body_text": text,
                        "body_html": html,
                        "size": 900
                        + len(text.encode())
                        + len(html.encode())
                        + sum(int(f["size"] * 1.37) for f in files),
                        "has_attachments": bool(files),
                        "problems": [],
                        "origin": "sync",
                        "user_id": rep,
                        "created_at": when + timedelta(minutes=rng.randint(1, 10)),
                    }
                )
                batch["emaillead"].append({"email_id": email_id, "lead_id": lead_id})
                if second is not None:
                    batch["emaillead"].append({"email_id": email_id, "lead_id": second + 1})
                folder = SENT_FOLDER if outbound else "INBOX"
                batch["sighting"].append(
                    {
                        "email_id": email_id,
                        "mailbox_id": mailbox_of[rep],
                        "folder": folder,
                        "uidvalidity": 1,
                        "uid": place(mailbox_of[rep], folder),
                    }
                )
                if teammate and teammate != rep and rep_address[teammate] in cc:
                    box = mailbox_of[teammate]
                    batch["sighting"].append(
                        {"email_id": email_id, "mailbox_id": box, "folder": "INBOX",
                         "uidvalidity": 1, "uid": place(box, "INBOX")}
                    )  # fmt: skip
                previous_text, previous_id = text, message_id
                references = [*references, message_id][-10:]
                outbound = (not outbound) if rng.random() < 0.8 else outbound
                when += timedelta(minutes=rng.randint(15, 60 * 96))
                if len(batch["email"]) >= 5000:
                    yield "emails", batch
                    batch = {"email": [], "emaillead": [], "sighting": [], "attachment": []}
    if batch["email"]:
        yield "emails", batch


def make_accounts(app) -> dict:  # type: ignore[no-untyped-def]
    """Company, admin and reps (user ids 1..REPS+1), one mailbox per rep, no secrets."""
    from dashboard.accounts import service as accounts
    from dashboard.db.engine import write_session
    from dashboard.models import Mailbox

    engine = app.extensions["leadsync.engine"]
    reps = []
    with app.app_context(), write_session(engine) as session:
        admin = accounts.run_setup(
            session,
            company="Acme Bench",
            domains=[COMPANY_DOMAIN],
            admin_email=ADMIN[1],
            admin_name=ADMIN[0],
            password=PASSWORD,
        )
        assert admin.id == 1
        for n in range(REPS):
            address = f"rep{n + 1}@{COMPANY_DOMAIN}"
            user = accounts.create_user(
                session,
                email=address,
                name=REP_NAMES[n % len(REP_NAMES)],
                password=PASSWORD,
                role="rep",
            )
            session.add(
                Mailbox(
                    user_id=user.id,
                    provider="gmail",
                    address=address,
                    username=address,
                    imap_host="imap.gmail.com",
                    imap_port=993,
                    imap_security="ssl",
                    secret=None,
                    sent_folder=SENT_FOLDER,
                    sent_found_by="flag",
                    folders=["INBOX", SENT_FOLDER],
                    status="connected",
                )
            )
            reps.append({"id": user.id, "email": address})
    return {"reps": reps}


def fill(app, leads: int, emails: int, seed: int, log=print) -> dict:  # type: ignore[no-untyped-def]
    """Insert everything; return facts about the data (big lead id, rare word count...)."""
    from sqlalchemy import insert, text
    from sqlmodel import Session

    from dashboard.models import Attachment, Email, EmailLead, Lead, LeadAddress, Sighting
    from dashboard.sync.store.leads import refresh_stats

    engine = app.extensions["leadsync.engine"]
    facts = make_accounts(app)
    started = time.perf_counter()
    inserted = 0
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-400000")  # 400 MB page cache while loading
        conn.commit()
        for kind, *rows in generate(leads, emails, seed):
            if kind == "leads":
                lead_rows, address_rows = rows
                conn.execute(insert(Lead), lead_rows)
                conn.execute(insert(LeadAddress), address_rows)
                continue
            batch = rows[0]
            conn.execute(insert(Email), batch["email"])
            conn.execute(insert(EmailLead), batch["emaillead"])
            conn.execute(insert(Sighting), batch["sighting"])
            if batch["attachment"]:
                conn.execute(insert(Attachment), batch["attachment"])
            inserted += len(batch["email"])
            if inserted % 50_000 < len(batch["email"]):
                conn.commit()
                rate = inserted / (time.perf_counter() - started)
                log(f"  {inserted:,} emails inserted ({rate:,.0f}/s)")
        conn.commit()
        conn.exec_driver_sql("PRAGMA cache_size=-2000")
        conn.commit()
    log(f"  inserted in {time.perf_counter() - started:.0f} s; lead summaries...")
    with Session(engine) as session:
        for start in range(1, leads + 1, 1000):
            refresh_stats(session, range(start, min(leads, start + 999) + 1))
        session.commit()
        facts["big_lead_id"] = session.scalar(
            text("SELECT lead_id FROM emaillead GROUP BY lead_id ORDER BY count(*) DESC LIMIT 1")
        )
        facts["big_lead_emails"] = session.scalar(
            text("SELECT email_count FROM lead WHERE id = :i"), {"i": facts["big_lead_id"]}
        )
        facts["rare_word_emails"] = session.scalar(
            text("SELECT count(*) FROM email_fts WHERE email_fts MATCH :m"), {"m": '"pluviometro"*'}
        )
        for table in ("lead", "leadaddress", "email", "emaillead", "sighting", "attachment"):
            facts[f"rows_{table}"] = session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
        facts["avg_body_text"] = session.scalar(text("SELECT avg(length(body_text)) FROM email"))
        facts["html_share"] = session.scalar(text("SELECT avg(body_html != '') FROM email"))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    facts["seconds"] = round(time.perf_counter() - started, 1)
    return facts


def build(leads: int, emails: int, seed: int = 1, *, rebuild: bool = False, log=print) -> Path:  # type: ignore[no-untyped-def]
    """The cached instance for these parameters, built first when missing."""
    target = cache_dir(leads, emails, seed)
    if (target / "meta.json").exists() and not rebuild:
        return target
    for stale in OUT.glob(f"web-v*-l{leads}-e{emails}-s{seed}*"):
        shutil.rmtree(stale, ignore_errors=True)  # other schema or generator version
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log(f"building {target.name} (once; cached afterwards)...")
    from dashboard import create_app

    app = create_app({"INSTANCE_PATH": str(partial)})
    facts = fill(app, leads, emails, seed, log)
    app.extensions["leadsync.engine"].dispose()
    facts.update(
        leads=leads, emails=emails, seed=seed, version=GENERATOR_VERSION, password=PASSWORD,
        login=f"rep1@{COMPANY_DOMAIN}", rare_word=RARE_WORD,
        db_bytes=os.path.getsize(partial / "leadsync.db"),
    )  # fmt: skip
    (partial / "meta.json").write_text(json.dumps(facts, indent=2, default=str))
    partial.rename(target)
    log(f"built in {facts['seconds']} s: {json.dumps(facts, default=str)}")
    return target


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--emails", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    print(build(args.leads, args.emails, args.seed, rebuild=args.rebuild))
