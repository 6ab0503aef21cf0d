"""parse.py against what a real Dovecot returns for a lean FETCH of stdlib-built messages."""

from __future__ import annotations

import datetime as dt
import email.policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import imapclient
import pytest

from dashboard.mail.parse import (
    Address,
    MessageMeta,
    Part,
    RawAddress,
    RawEnvelope,
    RawFetch,
    decode_part,
    html_to_text,
    meta_from_fetch,
)

HEADER_FIELDS = (
    "REFERENCES LIST-UNSUBSCRIBE LIST-ID PRECEDENCE AUTO-SUBMITTED X-AUTO-RESPONSE-SUPPRESS"
    " CONTENT-TYPE"
)
LEAN_FETCH = [
    "ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE", "INTERNALDATE", "FLAGS",
    f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]",
]  # fmt: skip
SMTP = email.policy.SMTP  # CRLF line endings, as mail arrives
APPENDED_AT = dt.datetime(2025, 6, 30, 18, 45, tzinfo=dt.timezone(dt.timedelta(hours=-3)))


# --- imapclient's reading of a real answer, mapped to parse.py's raw types: parse.py is
# checked on an independent parser's output (the app itself uses mail/imap_fetch.py).


def _raw_addresses(addresses: tuple[Any, ...] | None) -> tuple[RawAddress, ...]:
    """imapclient Address tuples (or None) -> RawAddress tuple."""
    return tuple(RawAddress(a.name, a.mailbox, a.host) for a in addresses or ())


def _raw_date(value: dt.datetime | bytes | None) -> bytes | None:
    """imapclient already parsed the Date header; turn it back into RFC 5322 bytes.

    Needs `client.normalise_times = False`: aware datetimes keep their zone, and a naive one
    means the header had no zone (formatted as -0000, read back as UTC). An unparseable Date
    arrives as None, so parse.py falls back to INTERNALDATE.
    """
    if isinstance(value, dt.datetime):
        return format_datetime(value).encode("ascii")
    return value if isinstance(value, bytes) else None


def _raw_envelope(envelope: Any) -> RawEnvelope | None:
    """imapclient Envelope -> RawEnvelope (None stays None)."""
    if envelope is None:
        return None
    return RawEnvelope(
        date=_raw_date(envelope.date), subject=envelope.subject,
        from_=_raw_addresses(envelope.from_), sender=_raw_addresses(envelope.sender),
        reply_to=_raw_addresses(envelope.reply_to), to=_raw_addresses(envelope.to),
        cc=_raw_addresses(envelope.cc), bcc=_raw_addresses(envelope.bcc),
        in_reply_to=envelope.in_reply_to, message_id=envelope.message_id,
    )  # fmt: skip


def raw_fetch_from_imapclient(uid: int, data: dict[bytes, Any]) -> RawFetch:
    """One message of IMAPClient.fetch(..., LEAN_FETCH) -> RawFetch for parse.meta_from_fetch."""
    headers = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    internaldate = data.get(b"INTERNALDATE")
    if isinstance(internaldate, dt.datetime) and internaldate.tzinfo is None:
        internaldate = internaldate.astimezone(dt.UTC)  # normalised by imapclient: local time
    return RawFetch(
        uid=uid, envelope=_raw_envelope(data.get(b"ENVELOPE")),
        bodystructure=data.get(b"BODYSTRUCTURE"), header_fields=headers or b"",
        size=int(data.get(b"RFC822.SIZE") or 0), internaldate=internaldate,
        flags=tuple(f if isinstance(f, bytes) else str(f).encode() for f in data.get(b"FLAGS", ())),
        gm_msgid=data.get(b"X-GM-MSGID"), gm_thrid=data.get(b"X-GM-THRID"),
    )  # fmt: skip


# --- test plumbing ---------------------------------------------------------------------------


def lean_fetch(client: imapclient.IMAPClient, uid: int) -> MessageMeta:
    """Run the lean FETCH for one UID and parse it."""
    client.normalise_times = False
    data = client.fetch([uid], LEAN_FETCH)[uid]
    return meta_from_fetch(raw_fetch_from_imapclient(uid, data))


def fetch_texts(client: imapclient.IMAPClient, uid: int, meta: MessageMeta) -> dict[str, str]:
    """Fetch and decode the chosen text/plain and text/html parts with BODY.PEEK."""
    chosen = (("text", meta.text_parts[:1]), ("html", meta.html_parts[:1]))
    parts = {kind: found[0] for kind, found in chosen if found}
    if not parts:
        return {}
    items = [f"BODY.PEEK[{p.section}]" for p in parts.values()]
    data = client.fetch([uid], items)[uid]
    return {kind: decode_part(data[f"BODY[{p.section}]".encode()], p) for kind, p in parts.items()}


def sections(*groups: tuple[Part, ...]) -> tuple[list[str], ...]:
    """The IMAP sections of each group of parts."""
    return tuple([part.section for part in group] for group in groups)


def store_and_read(user: Any, message: bytes, flags: tuple[str, ...] = ()) -> tuple:
    """Append to INBOX, then return (meta, decoded texts, flags after the fetches)."""
    uid = user.append("INBOX", message, flags=flags, msg_time=APPENDED_AT)
    with user.connect() as client:
        client.select_folder("INBOX", readonly=False)  # read-write: PEEK must not set \\Seen
        meta = lean_fetch(client, uid)
        texts = fetch_texts(client, uid, meta)
        after = client.get_flags([uid])[uid]
    return meta, texts, after


def proposal_message() -> bytes:
    """multipart/mixed: alternative (Latin-1 QP text, base64 UTF-8 html) + PDF + forwarded mail."""
    msg = EmailMessage()
    msg["From"] = "João Conceição <Joao@Cliente.COM.br>"
    msg["To"] = "Rep Um <rep1@acme.test>, ana@acme.test"
    msg["Cc"] = "Diretoria <diretoria@cliente.com.br>"
    msg["Subject"] = "Sincronização da proposta comercial"
    msg["Date"] = "Tue, 01 Jul 2025 10:00:00 -0300"
    msg["Message-ID"] = "<proposta-42@cliente.com.br>"
    msg["In-Reply-To"] = "<pedido-41@acme.test>"
    msg["References"] = (
        " ".join(f"<ref-{n}@acme.test>" for n in range(1, 8)) + " <pedido-41@acme.test>"
    )
    msg.set_content(
        "Olá, segue a cotação.\nAté logo!\n", charset="iso-8859-1", cte="quoted-printable"
    )
    msg.add_alternative(
        "<p>Olá, segue a <b>cotação</b>.</p><p>Até logo!</p>", subtype="html", cte="base64"
    )
    msg.add_attachment(
        b"%PDF-1.4\n" * 50,
        maintype="application",
        subtype="pdf",
        filename="Proposta comercial ção.pdf",
    )
    forwarded = EmailMessage()
    forwarded["Subject"] = "Pedido original"
    forwarded["From"] = "rep1@acme.test"
    forwarded.set_content("pedido\n")
    msg.add_attachment(forwarded)
    return msg.as_bytes(policy=SMTP)


def newsletter_message() -> bytes:
    """Single-part windows-1252 HTML newsletter without Message-ID and with an absurd Date."""
    html = (
        "<html><head><style>p{}</style></head>"
        "<body><h1>Promoção</h1><p>“Oferta” – €5</p></body></html>"
    )
    msg = EmailMessage()
    msg["From"] = "=?ISO-8859-1?Q?Loja_Promo=E7=F5es?= <news@loja.com.br>"
    msg["To"] = "rep1@acme.test"
    msg["Subject"] = "=?ISO-8859-1?Q?Promo=E7=E3o_de_inverno?="
    msg["Date"] = "Thu, 01 Jan 1970 00:00:00 +0000"
    msg["List-Unsubscribe"] = "<mailto:sair@loja.com.br>"
    msg.set_content(html.encode("cp1252"), maintype="text", subtype="html", cte="8bit")
    msg.set_param("charset", "windows-1252")
    return msg.as_bytes(policy=SMTP)


def related_message() -> bytes:
    """alternative(plain, related(html, inline PNG with Content-ID))."""
    msg = EmailMessage()
    msg["From"] = "ana@cliente.com.br"
    msg["To"] = "rep1@acme.test"
    msg["Subject"] = "Logo"
    msg["Date"] = "Wed, 02 Jul 2025 08:00:00 +0000"
    msg["Message-ID"] = "  <logo-1@cliente.com.br>  "
    msg.set_content("Veja o logo.\n")
    msg.add_alternative('<p>Veja o logo: <img src="cid:logo@cliente"></p>', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(
        b"\x89PNG\r\n" + bytes(200), maintype="image", subtype="png", cid="<logo@cliente>"
    )
    return msg.as_bytes(policy=SMTP)


# --- tests -------------------------------------------------------------------------------------


def test_proposal_with_attachments_is_parsed_from_a_real_server(mailbox_user: Any) -> None:
    meta, texts, flags = store_and_read(mailbox_user, proposal_message())
    assert meta.subject == "Sincronização da proposta comercial"
    assert meta.from_ == (Address("João Conceição", "joao@cliente.com.br"),)
    assert meta.participants() == {
        "joao@cliente.com.br", "rep1@acme.test", "ana@acme.test", "diretoria@cliente.com.br"
    }  # fmt: skip
    assert (meta.message_id, meta.synthetic_id) == ("<proposta-42@cliente.com.br>", False)
    assert meta.in_reply_to == "<pedido-41@acme.test>"
    assert meta.references == tuple(f"<ref-{n}@acme.test>" for n in range(1, 8)) + (
        "<pedido-41@acme.test>",
    )
    assert meta.date == dt.datetime(2025, 7, 1, 13, tzinfo=dt.UTC)
    assert sections(meta.text_parts, meta.html_parts) == (["1.1"], ["1.2"])
    assert [(p.section, p.content_type, p.filename) for p in meta.attachments] == [
        ("2", "application/pdf", "Proposta comercial ção.pdf"),
        ("3", "message/rfc822", "Pedido original.eml"),
    ]
    assert meta.attachments[0].size > 0 and not meta.automated and meta.problems == ()
    assert texts["text"] == "Olá, segue a cotação.\nAté logo!\n"
    assert html_to_text(texts["html"]) == "Olá, segue a cotação.\n\nAté logo!"
    assert b"\\Seen" not in flags


def test_html_only_newsletter_without_message_id(mailbox_user: Any) -> None:
    message = newsletter_message()
    meta, texts, _ = store_and_read(mailbox_user, message, flags=("\\Seen",))
    again, _, _ = store_and_read(mailbox_user, message, flags=("\\Seen",))
    assert meta.synthetic_id and meta.message_id.endswith("@leadsync.synthetic>")
    assert again.message_id == meta.message_id and again.uid != meta.uid
    assert meta.subject == "Promoção de inverno"
    assert meta.from_ == (Address("Loja Promoções", "news@loja.com.br"),)
    assert meta.automated and "\\Seen" in meta.flags
    assert meta.date == APPENDED_AT.astimezone(dt.UTC)  # 1970 is absurd: INTERNALDATE wins
    assert any("Date" in problem for problem in meta.problems)
    assert sections(meta.text_parts, meta.html_parts) == ([], ["1"]) and meta.attachments == ()
    assert html_to_text(texts["html"]) == "Promoção\n\n“Oferta” – €5"


def test_related_inline_image_is_an_inline_attachment(mailbox_user: Any) -> None:
    meta, texts, _ = store_and_read(mailbox_user, related_message())
    assert meta.message_id == "<logo-1@cliente.com.br>"
    assert sections(meta.text_parts, meta.html_parts) == (["1"], ["2.1"])
    [image] = meta.attachments
    assert (image.section, image.content_type, image.content_id, image.inline) == (
        "2.2", "image/png", "<logo@cliente>", True,
    )  # fmt: skip
    assert texts["text"] == "Veja o logo.\n"
    assert "cid:logo@cliente" in texts["html"]


@pytest.mark.parametrize(
    ("subject_header", "expected"),
    [
        ("=?UTF-8?B?UmV1bmnDo28gZGUgYWxpbmhhbWVudG8=?=", "Reunião de alinhamento"),
        ("=?utf-8?q?Or=C3=A7amento?= =?utf-8?q?_aprovado?=", "Orçamento aprovado"),
        ("=?iso-8859-1?q?Cota=E7=E3o?=", "Cotação"),
    ],
)
def test_encoded_subjects_round_trip_through_the_server(
    mailbox_user: Any, subject_header: str, expected: str
) -> None:
    message = (
        f"From: a@cliente.com\r\nTo: rep1@acme.test\r\nSubject: {subject_header}\r\n"
        "Date: Wed, 02 Jul 2025 08:00:00 +0000\r\nMessage-ID: <s@x>\r\n"
        "Precedence: bulk\r\n\r\ncorpo\r\n"
    ).encode()
    meta, texts, _ = store_and_read(mailbox_user, message)
    assert (meta.subject, meta.automated, texts) == (expected, True, {"text": "corpo\n"})
