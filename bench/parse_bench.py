"""Micro-benchmark of parse.meta_from_fetch on generated lean-fetch inputs (no IMAP, no disk).

Run: .venv/bin/python bench/parse_bench.py [--messages 5000] [--runs 5]
Prints microseconds per message, median of the runs. The address and header caches are
cleared before every run, so each run pays for its first sight of every contact.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.mail import parse  # noqa: E402
from dashboard.mail.parse import RawAddress, RawEnvelope, RawFetch  # noqa: E402

FIRST = ["Ana", "João", "Maria", "José", "Conceição", "Luís", "Bruno", "Sofia", "Tiago", "Inês"]
LAST = ["Silva", "Conceição", "Araújo", "Gonçalves", "Souza", "Lima", "Pereira", "Antunes"]
WORDS = ["proposta", "cotação", "reunião", "contrato", "pedido", "orçamento", "entrega", "fatura"]


def encoded(text: str, rng: random.Random) -> bytes:
    """Header bytes as mailers send them: plain ASCII, RFC 2047 Q/B in UTF-8 or Latin-1."""
    if text.isascii():
        return text.encode()
    kind = rng.choice(["q-utf8", "b-utf8", "q-latin1"])
    if kind == "q-latin1":
        body = "".join(c if c.isalnum() and c.isascii() else f"={ord(c):02X}" for c in text)
        return f"=?ISO-8859-1?Q?{body.replace('=20', '_')}?=".encode()
    if kind == "b-utf8":
        import base64

        return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?=".encode()
    body = "".join(
        c if c.isalnum() and c.isascii() else f"={b:02X}" for c in text for b in c.encode()
    )
    return f"=?utf-8?q?{body}?=".encode()


def contacts(rng: random.Random, count: int) -> list[RawAddress]:
    """A pool of external and internal contacts with Portuguese names."""
    pool = []
    for n in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        host = rng.choice(
            [b"acme.test", b"cliente.com.br", b"gmail.com", f"empresa{n % 40}.pt".encode()]
        )
        pool.append(
            RawAddress(
                encoded(name, rng) if rng.random() < 0.8 else None, f"user{n}".encode(), host
            )
        )
    return pool


def structure(rng: random.Random) -> tuple:
    """One of the usual BODYSTRUCTURE shapes, as imapclient returns them."""
    plain = (
        b"text",
        b"plain",
        (b"charset", b"utf-8"),
        None,
        None,
        b"quoted-printable",
        1200,
        30,
        None,
        None,
        None,
        None,
    )
    html = (
        b"text",
        b"html",
        (b"charset", b"utf-8"),
        None,
        None,
        b"base64",
        5400,
        70,
        None,
        None,
        None,
        None,
    )
    alt = ([plain, html], b"alternative", (b"boundary", b"b1"), None, None, None)
    pdf = (
        b"application",
        b"pdf",
        (b"name", b"proposta.pdf"),
        None,
        None,
        b"base64",
        250_000,
        None,
        (b"attachment", (b"filename*", b"utf-8''cota%C3%A7%C3%A3o.pdf")),
        None,
        None,
    )
    png = (
        b"image",
        b"png",
        None,
        b"<logo@x>",
        None,
        b"base64",
        9_000,
        None,
        (b"inline", None),
        None,
        None,
    )
    related = ([html, png], b"related", (b"boundary", b"b2"), None, None, None)
    shapes = [
        plain, alt, alt, ([alt, pdf], b"mixed", (b"boundary", b"b0"), None, None, None),
        ([plain, related], b"alternative", (b"boundary", b"b3"), None, None, None), html,
    ]  # fmt: skip
    return rng.choice(shapes)


def header_block(rng: random.Random, n: int) -> bytes:
    """References (folded), Content-Type and, for newsletters, list headers."""
    lines = [b'Content-Type: multipart/alternative;\r\n boundary="b1"']
    refs = [f"<thread{n // 7}-{k}@mail.cliente.com.br>".encode() for k in range(rng.randint(0, 10))]
    if refs:
        lines.append(b"References: " + b"\r\n ".join(refs))
    if rng.random() < 0.2:
        lines += [b"List-Unsubscribe: <mailto:sair@loja.com>", b"List-Id: <news.loja.com>"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def make_fetch(rng: random.Random, pool: list[RawAddress], n: int, start: datetime) -> RawFetch:
    """One realistic lean fetch."""
    when = start + timedelta(minutes=7 * n)
    subject = f"Re: {rng.choice(WORDS)} {rng.choice(WORDS)} nº {n}"
    message_id = f"<msg{n}.{rng.getrandbits(40):x}@mail.cliente.com.br>".encode()
    env = RawEnvelope(
        date=format_datetime(when.astimezone()).encode() if n % 500 else b"garbage date",
        subject=encoded(subject, rng), from_=(rng.choice(pool),), sender=(), reply_to=(),
        to=tuple(rng.sample(pool, rng.randint(1, 3))),
        cc=tuple(rng.sample(pool, rng.randint(0, 2))), bcc=(),
        in_reply_to=f"<thread{n // 7}-0@mail.cliente.com.br>".encode() if n % 7 else None,
        message_id=message_id if n % 300 else None,  # one in 300 has no Message-ID
    )  # fmt: skip
    return RawFetch(
        uid=n + 1, envelope=env, bodystructure=structure(rng), header_fields=header_block(rng, n),
        size=rng.randint(3_000, 400_000), internaldate=when, flags=(b"\\Seen",),
    )  # fmt: skip


def run_once(fetches: list[RawFetch]) -> float:
    """Parse every fetch with cold caches; return microseconds per message."""
    parse.make_address.cache_clear()
    parse.decode_header.cache_clear()
    now = datetime.now(UTC)
    began = time.perf_counter()
    for raw in fetches:
        parse.meta_from_fetch(raw, now=now)
    return (time.perf_counter() - began) / len(fetches) * 1e6


def main() -> None:
    """Build the inputs, time the runs, print the median."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--messages", type=int, default=5000)
    args.add_argument("--runs", type=int, default=5)
    args.add_argument("--contacts", type=int, default=300)
    options = args.parse_args()
    rng = random.Random(42)
    pool = contacts(rng, options.contacts)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    fetches = [make_fetch(rng, pool, n, start) for n in range(options.messages)]
    timings = [run_once(fetches) for _ in range(options.runs)]
    print(
        f"meta_from_fetch: {statistics.median(timings):.1f} µs/message (median of {options.runs}"
        f" runs of {options.messages}; {options.contacts} contacts; runs:"
        f" {', '.join(f'{t:.1f}' for t in timings)})"
    )


if __name__ == "__main__":
    main()
