"""Deterministic generator of a realistic sales rep's mailbox, written as Maildir files.

Used by bench/sync_bench.py. The mailbox belongs to rep1@acme.test at a company whose
domain is acme.test, in Portuguese (Brazil), spread over 2024-2025, split between INBOX
and the Sent folder:

- client threads (~66% of messages): the rep writes to a client company (Sent) and the
  client answers (INBOX), with References/In-Reply-To chains, quoted history, colleagues
  in Cc; the company's default policy ("sent") creates the leads from the Sent mail;
- internal mail (~16%): only acme.test people -> skipped as "internal";
- cold inbound (~11%): strangers writing in who never got an answer -> "no lead";
- newsletters and notifications (~7%): List-Unsubscribe / no-reply -> "automated".

Bodies: text/plain only, multipart/alternative (plain + HTML), HTML only, HTML with inline
images (multipart/related); RFC 2047 (UTF-8 and ISO-8859-1) subjects and names, some
ISO-8859-1 bodies, a message without Message-ID every 500. Attachments (PDF, XLSX, DOCX,
JPEG, PNG) 10 KB-5 MB of incompressible data, base64: they make up most of the bytes.
The mean message size is about 110 KB (`size_scale` scales attachments only).

Files are written with LF line ends, as Dovecot's own delivery does, named
`<time>.M<n>P1.bench,S=<size>,W=<size with CRLF>:2,S` with the file mtime set to the
message's arrival time (Dovecot's INTERNALDATE). Output is cached: a finished tree has a
manifest.json and is reused as is.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

GENERATOR_VERSION = 8
OWNER = ("Ricardo Almeida", "rep1@acme.test")
COMPANY_DOMAIN = "acme.test"
START = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
SPAN = timedelta(days=700)
INBOX, SENT = "INBOX", "Sent"

FIRST = [
    "Ana", "João", "Maria", "José", "Conceição", "Luís", "Bruno", "Sofia", "Tiago", "Inês",
    "Gonçalo", "Beatriz", "Patrícia", "André", "Fábio", "Lúcia", "Márcio", "Cátia", "Rui",
    "Helena", "Vítor", "Raquel", "Sérgio", "Leonor", "Álvaro", "Mônica", "Thaís", "Caio",
]  # fmt: skip
LAST = [
    "Silva", "Conceição", "Araújo", "Gonçalves", "Souza", "Lima", "Pereira", "Antunes",
    "Magalhães", "Simões", "Brandão", "Guimarães", "Assunção", "Ribeiro", "Carvalho", "Lopes",
]  # fmt: skip
COMPANY_WORDS = [
    "Construtora", "Metalúrgica", "Distribuidora", "Logística", "Agropecuária", "Têxtil",
    "Farmacêutica", "Engenharia", "Transportes", "Alimentos", "Tecnologia", "Comércio",
]  # fmt: skip
PLACES = [
    "Paulista", "Mineira", "Gaúcha", "do Nordeste", "Atlântico", "Serra Azul", "São João",
    "Ipê", "Jacarandá", "Araucária", "Horizonte", "Três Rios", "Boa Vista", "Paraná",
]  # fmt: skip
TOPICS = [
    "proposta comercial", "cotação de preços", "reunião de alinhamento", "contrato de serviço",
    "pedido de compra", "orçamento revisado", "prazo de entrega", "nota fiscal",
    "condições de pagamento", "renovação anual", "visita técnica", "apresentação do produto",
]  # fmt: skip
SENTENCES = [
    "Conforme conversamos ontem, segue a proposta atualizada com os valores revisados.",
    "Gostaríamos de agendar uma reunião na próxima semana para discutir os próximos passos.",
    "A equipe técnica já analisou a documentação e não encontrou nenhuma pendência.",
    "Por favor, confirme se as condições de pagamento em três parcelas estão de acordo.",
    "O prazo de entrega estimado é de quinze dias úteis após a aprovação do pedido.",
    "Estamos à disposição para esclarecer qualquer dúvida sobre a cotação enviada.",
    "A nota fiscal será emitida assim que recebermos a confirmação do pagamento.",
    "Anexo o contrato revisado com as alterações solicitadas pelo departamento jurídico.",
    "Nossa diretoria aprovou o orçamento, mas pediu um desconto adicional de cinco por cento.",
    "Infelizmente houve um atraso na produção e precisaremos reagendar a instalação.",
    "Agradecemos a preferência e ficamos no aguardo do seu retorno até sexta-feira.",
    "Você poderia enviar a planilha com as quantidades por filial e o endereço de entrega?",
    "A visita técnica ficou marcada para quinta-feira às 14h, na unidade de Campinas.",
    "Segue em anexo a apresentação institucional e o catálogo de produtos atualizado.",
    "O pagamento foi efetuado hoje pela manhã; o comprovante segue em anexo.",
    "Precisamos também da certidão negativa de débitos para concluir o cadastro.",
]  # fmt: skip
NEWSLETTERS = [
    ("Loja Virtual Ofertas", "ofertas", "lojavirtual.com.br"),
    ("Portal do Empreendedor", "newsletter", "portalempreendedor.com.br"),
    ("Revista Gestão & Vendas", "news", "gestaovendas.com.br"),
    ("Banco Horizonte", "no-reply", "bancohorizonte.com.br"),
    ("Sistema de Notas", "notificacoes", "nfe-sistema.com.br"),
]
ATTACHMENT_TYPES = [
    ("application", "pdf", "Proposta comercial {n}.pdf"),
    ("application", "pdf", "Cotação nº {n}.pdf"),
    ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Orçamento {n}.xlsx"),
    ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document",
     "Contrato revisão {n}.docx"),
    ("image", "jpeg", "foto_instalação_{n}.jpg"),
    ("application", "pdf", "NF-e {n}.pdf"),
]  # fmt: skip
MIN_ATTACHMENT, MAX_ATTACHMENT = 10_000, 5_000_000
ATTACHMENT_RAW_PER_MESSAGE = 67_000  # bytes; + ~21 KB of text, headers, inline images
POOL_BYTES = 6 * 1024 * 1024  # random data that attachments are cut from


@dataclass
class Person:
    """Someone in the mailbox."""

    name: str
    address: str


@dataclass
class Msg:
    """One message before rendering."""

    when: datetime
    folder: str
    kind: str  # client | internal | cold | bulk
    sender: Person
    to: list[Person]
    cc: list[Person] = field(default_factory=list)
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    attachments: list[int] = field(default_factory=list)  # raw sizes
    shape: str = "alternative"
    latin1: bool = False


def ascii_slug(text: str) -> str:
    """Lowercase ASCII slug for addresses and domains."""
    table = str.maketrans("áàâãäéêèíïóôõöúüçÁÀÂÃÉÊÍÓÔÕÚÇ", "aaaaaeeeiiooooucAAAAEEIOOOUUC")
    return "".join(c for c in text.translate(table).lower() if c.isalnum() or c in "-.")


class Generator:
    """Builds the message plan deterministically from a seed."""

    def __init__(self, messages: int, seed: int, size_scale: float) -> None:
        self.n, self.size_scale = messages, size_scale
        self.rng = random.Random(seed)
        rng = self.rng
        self.owner = Person(*OWNER)
        self.colleagues = [self.person(COMPANY_DOMAIN, numbered=False) for _ in range(12)]
        companies = max(20, messages // 40)
        self.clients = []
        for c in range(companies):
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(PLACES)}"
            domain = f"{ascii_slug(name.replace(' ', '-'))}{c}.com.br"
            people = [self.person(domain) for _ in range(rng.randint(1, 3))]
            self.clients.append((name, people))
        self.strangers_domains = [f"empresa{c}.com.br" for c in range(max(20, messages // 30))]
        self.counter = 0

    def person(self, domain: str, *, numbered: bool = True) -> Person:
        """A Portuguese-named person at a domain (ASCII address derived from the name)."""
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        number = self.rng.randint(1, 99) if numbered else ""
        return Person(f"{first} {last}", f"{ascii_slug(first)}.{ascii_slug(last)}{number}@{domain}")

    def message_id(self, when: datetime, host: str) -> str:
        """A unique Message-ID."""
        self.counter += 1
        return f"<{when:%Y%m%d%H%M%S}.{self.counter}.{self.rng.getrandbits(32):08x}@{host}>"

    def attachment_sizes(self, chance: float) -> list[int]:
        """Raw attachment sizes: mostly tens to hundreds of KB, a few MB-sized ones."""
        if self.rng.random() >= chance:
            return []
        count = self.rng.choices([1, 2, 3], [70, 22, 8])[0]
        sizes = []
        for _ in range(count):
            # log-scale between 10 KB and 5 MB, skewed to the small end (u**3)
            ratio = (MAX_ATTACHMENT / MIN_ATTACHMENT) ** (self.rng.random() ** 3)
            sizes.append(int(MIN_ATTACHMENT * ratio))
        return sizes

    def body(self, sentences: tuple[int, int]) -> list[str]:
        """A few paragraphs of Portuguese business prose."""
        paragraphs = []
        for _ in range(self.rng.randint(1, 4)):
            k = self.rng.randint(*sentences)
            paragraphs.append(" ".join(self.rng.choice(SENTENCES) for _ in range(k)))
        return paragraphs

    def shape(self) -> str:
        """Which MIME body structure."""
        return self.rng.choices(["plain", "alternative", "html", "related"], [22, 55, 10, 13])[0]

    def client_thread(self, start: datetime) -> list[Msg]:
        """The rep and one client company writing back and forth."""
        rng = self.rng
        company, people = rng.choice(self.clients)
        topic = rng.choice(TOPICS)
        subject = f"{topic.capitalize()} – {company}"
        msgs: list[Msg] = []
        when = start
        outbound = rng.random() < 0.75  # most threads start with the rep writing
        for _ in range(rng.choices([1, 2, 3, 4, 6, 9], [15, 25, 25, 15, 12, 8])[0]):
            contact = rng.choice(people)
            cc = [rng.choice(self.colleagues)] if rng.random() < 0.3 else []
            if outbound:
                sender, to, folder = self.owner, [contact], SENT
                others = [p for p in people if p is not contact]
                if others and rng.random() < 0.3:
                    cc.append(rng.choice(others))
            else:
                sender, to, folder = contact, [self.owner], INBOX
            self.reply_to(msgs, when, folder, "client", sender, to, cc, subject, 0.16)
            outbound = not outbound if rng.random() < 0.85 else outbound
            when += timedelta(minutes=rng.randint(20, 60 * 72))
        return msgs

    def internal_thread(self, start: datetime) -> list[Msg]:
        """The rep and colleagues only."""
        rng = self.rng
        subject = f"Interno: {rng.choice(TOPICS)} ({rng.choice(PLACES)})"
        msgs: list[Msg] = []
        when = start
        for _ in range(rng.choice([1, 1, 2, 3])):
            colleague = rng.choice(self.colleagues)
            if rng.random() < 0.5:
                sender, to, folder = self.owner, [colleague], SENT
            else:
                sender, to, folder = colleague, [self.owner], INBOX
            cc = rng.sample(self.colleagues, rng.randint(0, 2))
            self.reply_to(msgs, when, folder, "internal", sender, to, cc, subject, 0.14)
            when += timedelta(minutes=rng.randint(5, 600))
        return msgs

    def cold(self, when: datetime) -> list[Msg]:
        """A stranger writes in; nobody answers."""
        domain = self.rng.choice(self.strangers_domains)
        sender = self.person(domain)
        subject = f"{self.rng.choice(TOPICS).capitalize()} – contato"
        return [self.reply_to([], when, INBOX, "cold", sender, [self.owner], [], subject, 0.1)]

    def bulk(self, when: datetime) -> list[Msg]:
        """A newsletter or a notification."""
        name, local, domain = self.rng.choice(NEWSLETTERS)
        subject = f"{name}: {self.rng.choice(TOPICS)} – edição {self.rng.randint(1, 500)}"
        msg = self.reply_to(
            [], when, INBOX, "bulk", Person(name, f"{local}@{domain}"), [self.owner], [], subject, 0
        )
        msg.shape = "related" if self.rng.random() < 0.6 else "html"
        return [msg]

    def reply_to(  # noqa: PLR0913
        self, thread: list[Msg], when: datetime, folder: str, kind: str, sender: Person,
        to: list[Person], cc: list[Person], subject: str, attach: float,
    ) -> Msg:  # fmt: skip
        """A new message in a thread (References/In-Reply-To from the previous one)."""
        previous = thread[-1] if thread else None
        msg = Msg(when, folder, kind, sender, to, cc)
        msg.subject = f"Re: {subject}" if previous else subject
        host = sender.address.rpartition("@")[2]
        msg.message_id = self.message_id(when, host)
        if previous:
            msg.in_reply_to = previous.message_id
            msg.references = [*previous.references, previous.message_id][-12:]
        msg.paragraphs = self.body((2, 6))
        if previous:
            msg.paragraphs += [f"> {p}" for p in previous.paragraphs[:6]]
        msg.attachments = self.attachment_sizes(attach)
        msg.shape = self.shape()
        msg.latin1 = self.rng.random() < 0.08
        thread.append(msg)
        return msg

    def calibrate(self, msgs: list[Msg]) -> None:
        """Scale attachment sizes so the mean message is ~110 KB whatever the seed's luck."""
        target = len(msgs) * ATTACHMENT_RAW_PER_MESSAGE * self.size_scale
        for _ in range(4):  # clamping to 10 KB-5 MB moves the sum a little: repeat
            total = sum(s for m in msgs for s in m.attachments)
            if not total:
                return
            factor = target / total
            for msg in msgs:
                msg.attachments = [
                    int(
                        max(
                            MIN_ATTACHMENT * min(self.size_scale, 1),
                            min(s * factor, MAX_ATTACHMENT),
                        )
                    )
                    for s in msg.attachments
                ]

    def plan(self) -> list[Msg]:
        """Exactly n messages, oldest first."""
        msgs: list[Msg] = []
        rng = self.rng
        while len(msgs) < self.n:
            when = START + SPAN * rng.random()
            kind = rng.choices(["client", "internal", "cold", "bulk"], [19.2, 9.1, 11, 7])[0]
            maker = {
                "client": self.client_thread, "internal": self.internal_thread,
                "cold": self.cold, "bulk": self.bulk,
            }[kind]  # fmt: skip
            msgs += maker(when)
        msgs = msgs[: self.n]
        msgs.sort(key=lambda m: m.when)
        self.calibrate(msgs)
        for index, msg in enumerate(msgs):
            if index % 500 == 499:
                msg.message_id = None  # no Message-ID: LeadSync makes a synthetic one
        return msgs


# --- rendering ---------------------------------------------------------------------------


def q_encode(text: str, charset: str = "utf-8") -> str:
    """RFC 2047 Q-encoding when needed."""
    if text.isascii():
        return text
    try:
        data = text.encode(charset)
    except UnicodeEncodeError:
        charset, data = "utf-8", text.encode()
    body = "".join(
        chr(b) if (chr(b).isalnum() and b < 128) else "_" if b == 32 else f"={b:02X}" for b in data
    )
    return f"=?{charset}?Q?{body}?="


def b_encode(text: str) -> str:
    """RFC 2047 B-encoding when needed."""
    if text.isascii():
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def address_header(people: list[Person], latin1: bool) -> str:
    """An address list header value."""
    out = []
    for person in people:
        name = q_encode(person.name, "iso-8859-1") if latin1 else b_encode(person.name)
        out.append(f'"{name}" <{person.address}>' if name.isascii() and " " in name and
                   "=?" not in name else f"{name} <{person.address}>")  # fmt: skip
    return ",\n ".join(out)


def qp(text: str, charset: str) -> str:
    """Quoted-printable body (soft line breaks at 76)."""
    import quopri

    return quopri.encodestring(text.encode(charset)).decode("ascii")


def html_of(msg: Msg) -> str:
    """The HTML version of the body."""
    paragraphs = "\n".join(
        f"<blockquote style=\"margin:0 0 0 .8ex;border-left:1px #ccc solid\">{p[2:]}</blockquote>"
        if p.startswith("> ") else f"<p style=\"font-family:Arial,sans-serif\">{p}</p>"
        for p in msg.paragraphs
    )  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><style>p{margin:0 0 1em}</style>'
        f'</head>\n<body>\n<div dir="ltr">\n{paragraphs}\n<p>Atenciosamente,<br>\n'
        f"<b>{msg.sender.name}</b></p>\n</div>\n</body></html>\n"
    )


class Renderer:
    """Turns a Msg into message bytes (LF line ends)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed ^ 0x5EED)
        raw = rng.randbytes(POOL_BYTES)
        encoded = base64.encodebytes(raw)  # 76 chars + b"\n" per 57 bytes
        self.pool, self.lines = encoded, len(encoded) // 77
        self.rng = rng
        self.boundaries = 0

    def boundary(self) -> str:
        """A fresh MIME boundary."""
        self.boundaries += 1
        return f"----=_Part_{self.boundaries}_{self.rng.getrandbits(40):010x}"

    def blob(self, size: int) -> bytes:
        """Base64 lines of `size` random bytes (a slice of the pool)."""
        lines = max(1, -(-size // 57))
        start = self.rng.randrange(0, max(1, self.lines - lines))
        return self.pool[start * 77 : (start + lines) * 77]

    def text_part(self, msg: Msg, html: bool) -> bytes:
        """text/plain or text/html leaf."""
        charset = "iso-8859-1" if msg.latin1 else "utf-8"
        if html:
            content = html_of(msg)
            kind = "html"
        else:
            content = "\n\n".join(msg.paragraphs) + f"\n\nAtenciosamente,\n{msg.sender.name}\n"
            kind = "plain"
        if kind == "html" and not msg.latin1 and self.rng.random() < 0.4:
            body = base64.encodebytes(content.encode()).decode()
            cte = "base64"
        else:
            body, cte = qp(content, charset), "quoted-printable"
        head = f'Content-Type: text/{kind}; charset="{charset}"\nContent-Transfer-Encoding: {cte}\n'
        return (head + "\n" + body).encode("ascii")

    def attachment(self, size: int, index: int, inline_cid: str | None = None) -> bytes:
        """One base64 attachment (or an inline image when inline_cid is given)."""
        if inline_cid:
            ctype, name = "image/png", f"image{index}.png"
            head = (
                f'Content-Type: {ctype}; name="{name}"\nContent-Transfer-Encoding: base64\n'
                f'Content-ID: <{inline_cid}>\nContent-Disposition: inline; filename="{name}"\n'
            )
        else:
            major, minor, pattern = self.rng.choice(ATTACHMENT_TYPES)
            name = pattern.format(n=self.rng.randint(100, 9999))
            if name.isascii():
                disp = f'filename="{name}"'
                param = f'name="{name}"'
            else:
                from urllib.parse import quote

                disp = f"filename*=utf-8''{quote(name)}"
                param = f'name="{b_encode(name)}"'
            head = (
                f"Content-Type: {major}/{minor}; {param}\nContent-Transfer-Encoding: base64\n"
                f"Content-Disposition: attachment; {disp}\n"
            )
        return head.encode("utf-8") + b"\n" + self.blob(size)

    @staticmethod
    def multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
        """A multipart entity from its parts."""
        out = [f'Content-Type: multipart/{subtype};\n boundary="{boundary}"\n\n'.encode()]
        for part in parts:
            out += [f"--{boundary}\n".encode(), part, b"\n"]
        out.append(f"--{boundary}--\n".encode())
        return b"".join(out)

    def body(self, msg: Msg) -> bytes:
        """The MIME body entity (with its Content-* headers)."""
        if msg.shape == "plain":
            core = self.text_part(msg, html=False)
        elif msg.shape == "html":
            core = self.text_part(msg, html=True)
        else:
            alternative = self.multipart(
                "alternative", self.boundary(),
                [self.text_part(msg, html=False), self.text_part(msg, html=True)],
            )  # fmt: skip
            core = alternative
            if msg.shape == "related":
                images = [
                    self.attachment(self.rng.randint(10_000, 60_000), i, f"img{i}.{msg.when:%s}")
                    for i in range(self.rng.randint(1, 3))
                ]
                core = self.multipart("related", self.boundary(), [alternative, *images])
        if not msg.attachments:
            return core
        parts = [core] + [self.attachment(s, i) for i, s in enumerate(msg.attachments)]
        return self.multipart("mixed", self.boundary(), parts)

    def render(self, msg: Msg) -> bytes:
        """Whole message bytes."""
        subject = q_encode(msg.subject, "iso-8859-1") if msg.latin1 else b_encode(msg.subject)
        headers = [
            "Return-Path: <" + msg.sender.address + ">",
            f"Received: from mail.{msg.sender.address.rpartition('@')[2]} (mx.acme.test)\n"
            f" by mx.acme.test with ESMTPS; {format_datetime(msg.when)}",
            f"From: {address_header([msg.sender], msg.latin1)}",
            f"To: {address_header(msg.to, msg.latin1)}",
        ]
        if msg.cc:
            headers.append(f"Cc: {address_header(msg.cc, msg.latin1)}")
        headers += [f"Subject: {subject}", f"Date: {format_datetime(msg.when)}"]
        if msg.message_id:
            headers.append(f"Message-ID: {msg.message_id}")
        if msg.in_reply_to:
            headers.append(f"In-Reply-To: {msg.in_reply_to}")
        if msg.references:
            headers.append("References: " + "\n ".join(msg.references))
        if msg.kind == "bulk":
            domain = msg.sender.address.rpartition("@")[2]
            headers += [
                f"List-Unsubscribe: <mailto:sair@{domain}>, <https://{domain}/sair>",
                f"List-Id: <news.{domain}>",
                "Precedence: bulk",
            ]
        headers += ["MIME-Version: 1.0", "X-Mailer: LeadSync bench generator"]
        return "\n".join(headers).encode("utf-8") + b"\n" + self.body(msg)


def cache_dir(root: Path, messages: int, seed: int, size_scale: float) -> Path:
    """Where a generated mailbox of these parameters lives."""
    scale = "" if size_scale == 1.0 else f"-x{size_scale:g}"
    return root / f"mail-v{GENERATOR_VERSION}-n{messages}-s{seed}{scale}"


def generate(root: Path, messages: int, seed: int = 1, size_scale: float = 1.0) -> Path:
    """Write (or reuse) the Maildir-ready files; return the directory (INBOX/, Sent/)."""
    target = cache_dir(root, messages, seed, size_scale)
    if (target / "manifest.json").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    for folder in (INBOX, SENT):
        (work / folder).mkdir(parents=True)
    plan = Generator(messages, seed, size_scale).plan()
    renderer = Renderer(seed)
    counts = {INBOX: 0, SENT: 0}
    kinds: dict[str, int] = {}
    total = attachment_bytes = 0
    for index, msg in enumerate(plan):
        data = renderer.render(msg)
        stamp = int(msg.when.timestamp())
        virtual = len(data) + data.count(b"\n")  # RFC822.SIZE counts CRLF line ends
        name = f"{stamp}.M{index:07d}P1.bench,S={len(data)},W={virtual}:2,S"
        path = work / msg.folder / name
        path.write_bytes(data)
        os.utime(path, (stamp, stamp))
        counts[msg.folder] += 1
        kinds[msg.kind] = kinds.get(msg.kind, 0) + 1
        total += len(data)
        attachment_bytes += int(sum(msg.attachments) * 4 / 3)
    manifest = {
        "messages": messages, "seed": seed, "size_scale": size_scale,
        "generator_version": GENERATOR_VERSION, "folders": counts, "kinds": kinds,
        "bytes": total, "mean_bytes": total // max(messages, 1),
        "attachment_bytes_share": round(attachment_bytes / max(total, 1), 3),
        "first": plan[0].when.isoformat() if plan else None,
        "last": plan[-1].when.isoformat() if plan else None,
    }  # fmt: skip
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
    work.rename(target)
    return target


def install(source: Path, maildir: Path, uid: int, gid: int) -> None:
    """Hard-link (or copy) the generated files into a user's Maildir, owned by the mail user."""
    places = {INBOX: maildir, SENT: maildir / "[Gmail]" / "E-mails enviados"}
    for folder, place in places.items():
        for sub in ("cur", "new", "tmp"):
            (place / sub).mkdir(parents=True, exist_ok=True)
        for directory in (place.parent, place, place / "cur", place / "new", place / "tmp"):
            if directory.is_relative_to(maildir) or directory == maildir:
                os.chown(directory, uid, gid)
                directory.chmod(0o700)
        for entry in os.scandir(source / folder):
            dest = place / "cur" / entry.name
            try:
                os.link(entry.path, dest)
            except OSError:
                shutil.copy2(entry.path, dest)
            os.chown(dest, uid, gid)
