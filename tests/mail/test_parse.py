"""Lean-fetch parsing: plain Raw* values in, MessageMeta and decoded text out (no IMAP)."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboard.mail import mime
from dashboard.mail.parse import (
    Address,
    ParseError,
    Part,
    RawAddress,
    RawEnvelope,
    RawFetch,
    decode_part,
    html_to_text,
    meta_from_fetch,
    normalize_message_id,
    synthetic_message_id,
    walk_bodystructure,
)

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)
INTERNAL = datetime(2025, 7, 2, 9, 30, tzinfo=timezone(timedelta(hours=-3)))


def addr(email: str, name: bytes | None = None) -> RawAddress:
    """A RawAddress from "local@host" and an optional raw display name."""
    mailbox, _, host = email.partition("@")
    return RawAddress(name, mailbox.encode(), host.encode())


def envelope(**fields: object) -> RawEnvelope:
    """A typical envelope; keyword arguments replace single fields."""
    base = RawEnvelope(
        date=b"Tue, 01 Jul 2025 10:00:00 -0300", subject=b"Proposta",
        from_=(addr("ana@cliente.com.br"),), sender=(), reply_to=(),
        to=(addr("rep1@acme.test"),), cc=(), bcc=(), in_reply_to=None,
        message_id=b"<m1@cliente.com.br>",
    )  # fmt: skip
    return replace(base, **fields)


def leaf(
    ctype: str,
    *,
    charset: str | None = "utf-8",
    encoding: str = "7bit",
    size: int = 10,
    cid: bytes | None = None,
    disposition: tuple | None = None,
    params: tuple = (),
) -> tuple:
    """A single-part BODYSTRUCTURE node shaped like imapclient's (text parts carry a line count)."""
    main, sub = (x.encode() for x in ctype.split("/"))
    ps = ((b"charset", charset.encode()) if charset else ()) + params
    head = (main, sub, ps or None, cid, None, encoding.encode(), size)
    if main == b"text":
        return head + (1, None, disposition, None, None)
    return head + (None, disposition, None, None)  # fmt: skip


def multi(subtype: str, *parts: tuple) -> tuple:
    """A multipart node in imapclient's form: a list of parts, then the subtype."""
    return (list(parts), subtype.encode(), (b"boundary", b"b"), None, None, None)


def fetch(**fields: object) -> RawFetch:
    """A typical lean fetch; keyword arguments replace single fields."""
    base = RawFetch(
        uid=7, envelope=envelope(), bodystructure=leaf("text/plain"), header_fields=b"\r\n",
        size=2048, internaldate=INTERNAL, flags=(b"\\Seen",),
    )  # fmt: skip
    return replace(base, **fields)


def meta(**fields: object):  # type: ignore[no-untyped-def]
    """meta_from_fetch of a typical fetch at a fixed NOW."""
    return meta_from_fetch(fetch(**fields), now=NOW)


@pytest.mark.parametrize(
    ("raw", "expected", "clean"),
    [
        (b"=?UTF-8?B?UmV1bmnDo28gZGUgYWxpbmhhbWVudG8=?=", "Reunião de alinhamento", True),
        (b"=?utf-8?q?Or=C3=A7amento_2025?=", "Orçamento 2025", True),
        (b"=?ISO-8859-1?Q?Sincroniza=E7=E3o?=", "Sincronização", True),
        (
            b"Re: =?iso-8859-1?q?Cota=E7=E3o?= =?iso-8859-1?q?_atualizada?= ok",
            "Re: Cotação atualizada ok",
            True,
        ),
        (b"=?utf-8?B?w6?= =?utf-8?B?pw==?=", "ç", True),  # a character split across two words
        (b"Proposta\r\n comercial", "Proposta comercial", True),
        ("Atenção".encode(), "Atenção", True),  # raw 8-bit UTF-8
        ("Atenção".encode("latin-1"), "Atenção", False),  # raw Latin-1: guessed, noted
        (b"=?x-bogus?q?Cota=E7=E3o?=", "Cotação", False),
        (b"=?utf-8?q?Cota=E7=E3o?=", "Cotação", False),  # declared UTF-8 but Latin-1 bytes
        (None, "", True),
    ],
)
def test_subject_is_decoded_best_effort(raw: bytes | None, expected: str, clean: bool) -> None:
    result = meta(envelope=envelope(subject=raw))
    assert result.subject == expected
    assert ("undecodable Subject" not in result.problems) is clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            addr("Joao@Cliente.COM.br", b"=?ISO-8859-1?Q?Jo=E3o_Concei=E7=E3o?="),
            Address("João Conceição", "joao@cliente.com.br"),
        ),
        (addr("m@x.pt", b"=?UTF-8?B?TWFyaWEgSm9zw6k=?="), Address("Maria José", "m@x.pt")),
        (addr("ana@x.com", b'"Ana  Souza"'), Address("Ana Souza", "ana@x.com")),
        (RawAddress(b"Sem Email", b"MISSING_MAILBOX", b"MISSING_DOMAIN"), Address("Sem Email", "")),
        (RawAddress(None, b" bob ", b" EXAMPLE.org "), Address("", "bob@example.org")),
    ],
)
def test_addresses_are_decoded_and_lowercased(raw: RawAddress, expected: Address) -> None:
    assert meta(envelope=envelope(from_=(raw,))).from_ == (expected,)


def test_group_markers_and_empty_addresses_are_dropped() -> None:
    group = (
        RawAddress(None, b"undisclosed-recipients", None),
        addr("a@x.com"),
        RawAddress(None, None, None),
    )
    result = meta(envelope=envelope(to=group, cc=(RawAddress(None, None, b"x"),)))
    assert result.to == (Address("", "a@x.com"),)
    assert result.cc == ()


def test_sender_and_participants() -> None:
    raw = envelope(
        from_=(RawAddress(b"Nobody", None, b"x"), addr("Ana@Cliente.com")), cc=(addr("c@x.com"),),
        bcc=(addr("b@x.com"),), reply_to=(addr("r@x.com"),),
    )  # fmt: skip
    result = meta(envelope=raw)
    assert result.sender == Address("", "ana@cliente.com")
    assert result.participants() == {"ana@cliente.com", "rep1@acme.test", "c@x.com", "b@x.com"}


def test_message_without_id_gets_the_same_synthetic_id_twice() -> None:
    first, second = (meta(envelope=envelope(message_id=None)) for _ in range(2))
    assert first.synthetic_id and second.synthetic_id
    assert first.message_id == second.message_id
    assert first.message_id == synthetic_message_id(
        "ana@cliente.com.br", datetime(2025, 7, 1, 13, tzinfo=UTC), "Proposta", 2048
    )
    assert meta(envelope=envelope(message_id=None), size=2049).message_id != first.message_id


def test_synthetic_id_is_stable_across_runs() -> None:
    date = datetime(2025, 7, 1, 10, tzinfo=timezone(timedelta(hours=-3)))
    value = synthetic_message_id("joao@cliente.com.br", date, "Sincronização", 100)
    assert value == "<b11d7d7ea2001c53466e95ae44f5aab9@leadsync.synthetic>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"<abc@x.com>", "<abc@x.com>"),
        ("  <abc@x.com>\r\n ", "<abc@x.com>"),
        ("<abc@\r\n x.com>", "<abc@x.com>"),
        ("<abc@x.com> (added by postmaster)", "<abc@x.com>"),
        ("junk <abc@x.com> <def@x.com>", "<abc@x.com>"),
        ("abc@x.com", "<abc@x.com>"),
        ("<>", None),
        ("   ", None),
        (None, None),
    ],
)
def test_message_ids_are_normalized(value: str | bytes | None, expected: str | None) -> None:
    assert normalize_message_id(value) == expected


def test_in_reply_to_and_folded_references_are_parsed() -> None:
    headers = (
        b"References: <r1@x.com>\r\n\t<r2@x.com> junk <r1@x.com>\r\n <r3@\r\n"
        b" y.com>\r\nContent-Type: text/plain\r\n\r\n"
    )
    result = meta(envelope=envelope(in_reply_to=b" <r3@y.com> (sent)"), header_fields=headers)
    assert result.references == ("<r1@x.com>", "<r2@x.com>", "<r3@y.com>")
    assert result.in_reply_to == "<r3@y.com>"


@pytest.mark.parametrize(
    ("date", "expected", "noted"),
    [
        (b"Tue, 01 Jul 2025 10:00:00 -0300", datetime(2025, 7, 1, 13, tzinfo=UTC), False),
        (b"1 Jul 2025 10:00:00 +0000 (UTC)", datetime(2025, 7, 1, 10, tzinfo=UTC), False),
        (b"Tue, 01 Jul 2025 10:00:00", datetime(2025, 7, 1, 10, tzinfo=UTC), False),
        (b"Fri, 11 Jul 2025 11:00:00 +0000", datetime(2025, 7, 11, 11, tzinfo=UTC), False),
        (b"not a date at all", INTERNAL, True),
        (b"Thu, 01 Jan 1970 00:00:00 +0000", INTERNAL, True),
        (b"Sat, 13 Jul 2025 12:00:00 +0000", INTERNAL, True),  # more than 2 days ahead
        (b"Mon, 01 Jan 2103 00:00:00 +0000", INTERNAL, True),
        (b"Tue, 99 Foo 2025 99:99:99 -9999", INTERNAL, True),
        (None, INTERNAL, True),
    ],
)
def test_absurd_dates_fall_back_to_internaldate(
    date: bytes | None, expected: datetime, noted: bool
) -> None:
    result = meta(envelope=envelope(date=date))
    assert result.date == expected
    assert result.date.tzinfo == UTC
    assert any("Date" in problem for problem in result.problems) is noted


def test_no_usable_date_at_all_gives_the_epoch_and_two_problems() -> None:
    result = meta(envelope=envelope(date=b"garbage"), internaldate=None)
    assert result.date == datetime(1970, 1, 1, tzinfo=UTC)
    assert len(result.problems) == 2


def test_naive_internaldate_is_read_as_utc() -> None:
    result = meta(envelope=envelope(date=None), internaldate=datetime(2025, 7, 2, 9, 30))
    assert result.date == datetime(2025, 7, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "automated"),
    [
        (b"List-Unsubscribe: <mailto:u@news.com>\r\n", True),
        (b"list-id: Vendas <vendas.lists.x.com>\r\n", True),
        (b"Precedence: bulk\r\n", True),
        (b"Precedence: List\r\n", True),
        (b"Precedence: junk\r\n", True),
        (b"Auto-Submitted: auto-replied\r\n", True),
        (b"Auto-Submitted: auto-generated; type=vacation\r\n", True),
        (b"X-Auto-Response-Suppress: All\r\n", True),
        (b"X-Auto-Response-Suppress: DR, OOF\r\n", True),
        (b"Content-Type: multipart/report; report-type=delivery-status\r\n", True),
        (b"Auto-Submitted: no\r\n", False),
        (b"Precedence: first-class\r\n", False),
        (b"X-Auto-Response-Suppress: DR, RN\r\n", False),
        (b"Content-Type: multipart/alternative;\r\n boundary=x\r\n", False),
        (b"References: <a@b>\r\n", False),
        (b"", False),
    ],
)
def test_automated_mail_is_detected_on_clear_signals(headers: bytes, automated: bool) -> None:
    assert meta(header_fields=headers + b"\r\n").automated is automated


def test_missing_envelope_and_headers_raises_parse_error() -> None:
    with pytest.raises(ParseError):
        meta_from_fetch(fetch(envelope=None, header_fields=b""))


def test_missing_envelope_falls_back_to_header_fields() -> None:
    headers = (
        b"From: =?utf-8?q?Jo=C3=A3o?= <Joao@Cliente.com>\r\nTo: a@x.com, B <b@x.com>\r\n"
        b"Subject: Ol\xc3\xa1\r\nDate: Tue, 01 Jul 2025 10:00:00 -0300\r\nMessage-ID: <h@x>\r\n\r\n"
    )
    result = meta(envelope=None, header_fields=headers)
    assert (result.subject, result.message_id) == ("Olá", "<h@x>")
    assert result.from_ == (Address("João", "joao@cliente.com"),)
    assert [a.email for a in result.to] == ["a@x.com", "b@x.com"]
    assert result.date == datetime(2025, 7, 1, 13, tzinfo=UTC)
    assert result.problems == ("no ENVELOPE; using the fetched header fields",)


def test_flags_gmail_ids_and_size_are_carried() -> None:
    result = meta(flags=(b"\\Seen", b"$Label1"), gm_msgid=123, gm_thrid=456, size=-5)
    assert (result.flags, result.gm_msgid, result.gm_thrid, result.size) == (
        ("\\Seen", "$Label1"), 123, 456, 0,
    )  # fmt: skip


PDF = leaf("application/pdf", charset=None, encoding="base64", size=900,
           disposition=(b"attachment", (b"filename", b"proposta.pdf")))  # fmt: skip
PNG = leaf(
    "image/png", charset=None, encoding="base64", cid=b"<logo@x>", disposition=(b"inline", None)
)
EML_ENVELOPE = (b"Mon, 1 Jul 2025", b"=?utf-8?q?Encaminhada_=C3=A9?=") + (None,) * 7 + (b"<e@x>",)
EML = (b"message", b"rfc822", None, None, None, b"7bit", 300, EML_ENVELOPE, leaf("text/plain"), 5,
       None, (b"attachment", None), None, None)  # fmt: skip
EML_NO_SUBJECT = EML[:7] + ((None,) * 10,) + EML[8:]
PLAIN, HTML = leaf("text/plain"), leaf("text/html")


def summary(bs: object) -> tuple:
    """(text sections, html sections, [(section, type, filename, inline)]) of a BODYSTRUCTURE;
    sections joined by "+" when there are several, None when there are none."""
    text, html, attachments = walk_bodystructure(bs)
    sections = [(p.section, p.content_type, p.filename, p.inline) for p in attachments]
    return ("+".join(p.section for p in text) or None, "+".join(p.section for p in html) or None,
            sections)  # fmt: skip


@pytest.mark.parametrize(
    ("bs", "expected"),
    [
        (PLAIN, ("1", None, [])),
        (HTML, (None, "1", [])),
        (multi("alternative", PLAIN, HTML), ("1", "2", [])),
        (
            multi("mixed", multi("alternative", PLAIN, HTML), PDF, PNG),
            (
                "1.1",
                "1.2",
                [("2", "application/pdf", "proposta.pdf", False), ("3", "image/png", None, True)],
            ),
        ),
        (
            multi("alternative", PLAIN, multi("related", HTML, PNG, PNG)),
            ("1", "2.1", [("2.2", "image/png", None, True), ("2.3", "image/png", None, True)]),
        ),
        (
            multi("mixed", PLAIN, EML, multi("mixed", EML_NO_SUBJECT)),
            (
                "1",
                None,
                [
                    ("2", "message/rfc822", "Encaminhada é.eml", False),
                    ("3.1", "message/rfc822", "message.eml", False),
                ],
            ),
        ),
        # a text part that is an attachment is not the body; calendar invites are attachments
        (
            multi(
                "mixed",
                leaf("text/plain", disposition=(b"attachment", None)),
                HTML,
                leaf("text/calendar"),
            ),
            (None, "2", [("1", "text/plain", None, False), ("3", "text/calendar", None, False)]),
        ),
        (
            multi("mixed", leaf("text/plain", params=(b"name", b"notes.txt")), PLAIN),
            ("2", None, [("1", "text/plain", "notes.txt", False)]),
        ),
        # every part of a mixed body shows, in order (Apple Mail: html, image, html)
        (multi("mixed", HTML, multi("alternative", PLAIN, HTML)), ("2.1", "1+2.2", [])),
        (
            multi("alternative", PLAIN, multi("mixed", HTML, PNG, HTML)),
            ("1", "2.1+2.3", [("2.2", "image/png", None, True)]),
        ),
        (
            multi("mixed", PLAIN, PDF, PLAIN),
            ("1+3", None, [("2", "application/pdf", "proposta.pdf", False)]),
        ),
        # beside HTML, a plain-text part (a list footer) is shown among the HTML, as text
        (multi("mixed", multi("alternative", PLAIN, HTML), PLAIN), ("1.1+2", "1.2+2", [])),
        # alternative: the first plain text, the last (richest) HTML; related: its root only
        (multi("alternative", PLAIN, HTML, PLAIN, HTML), ("1", "4", [])),
        (multi("related", HTML, HTML), (None, "1", [])),
        # lists and tuples alike, and the raw IMAP form without the list wrapper
        ([[list(PLAIN), list(HTML)], b"alternative"], ("1", "2", [])),
        ((PLAIN, HTML, b"alternative", (b"boundary", b"x")), ("1", "2", [])),
    ],
)
def test_bodystructure_picks_bodies_and_attachments(bs: object, expected: tuple) -> None:
    assert summary(bs) == expected


@pytest.mark.parametrize(
    ("params", "filename"),
    [
        ((b"filename*", b"utf-8''proposta%20comercial%20%C3%A7.pdf"), "proposta comercial ç.pdf"),
        (
            (b"filename*0*", b"iso-8859-1''Cota%E7%E3o", b"filename*1", b" final.pdf"),
            "Cotação final.pdf",
        ),
        ((b"filename", b"=?UTF-8?B?T3LDp2FtZW50by5wZGY=?="), "Orçamento.pdf"),
        ((b"filename*", b"x-bogus''caf%E9.pdf"), "café.pdf"),
    ],
)
def test_attachment_filenames_are_decoded(params: tuple, filename: str) -> None:
    part = leaf("application/pdf", charset=None, disposition=(b"attachment", params))
    assert walk_bodystructure(multi("mixed", PLAIN, part))[2][0].filename == filename


def test_content_type_name_is_used_when_disposition_has_none() -> None:
    part = leaf(
        "application/pdf", charset=None, params=(b"NAME", b"=?iso-8859-1?q?or=E7amento.pdf?=")
    )
    assert walk_bodystructure(part)[2][0].filename == "orçamento.pdf"


@pytest.mark.parametrize(
    "bs",
    [None, b"junk", (), [], (b"text",), (None, None, None), ([], b"mixed"), 42,
     ([b"x", (b"text", b"plain", None, None, None, b"7bit", b"NaN")], b"mixed"),
     (((((((b"deep",),),),),),),)],
)  # fmt: skip
def test_garbage_bodystructures_never_raise(bs: object) -> None:
    text, html, attachments = walk_bodystructure(bs)
    assert html == () and attachments == ()
    result = meta(bodystructure=bs)
    assert result.text_parts == text


def test_unreadable_parts_are_skipped_and_noted() -> None:
    result = meta(bodystructure=multi("mixed", (b"broken",), PLAIN, PDF))
    assert [p.section for p in result.text_parts] == ["2"]
    assert [p.section for p in result.attachments] == ["3"]
    assert result.problems == ("unreadable BODYSTRUCTURE part 1",)


def test_nesting_beyond_the_limit_is_cut_and_noted() -> None:
    node = PLAIN
    for _ in range(mime.MAX_DEPTH + 5):
        node = multi("mixed", node)
    result = meta(bodystructure=node)
    assert result.text_parts == () and "nested too deep" in result.problems[0]


def part(encoding: str = "7bit", charset: str | None = "utf-8", ctype: str = "text/plain") -> Part:
    """A text Part as walk_bodystructure would return it."""
    return Part("1", ctype, charset, encoding, 0, None, None, False)


@pytest.mark.parametrize(
    ("payload", "body_part", "expected"),
    [
        (base64.b64encode("Olá, tudo bem?".encode()), part("base64"), "Olá, tudo bem?"),
        (b"T2zDoSwgdHVkbyBiZW0/\r\nIEF0w6kgbG9nby4=", part("BASE64"), "Olá, tudo bem? Até logo."),
        (b"T2zDoQ", part("base64"), "Olá"),  # padding missing
        (b"T2zDoQ===\r\n!!", part("base64"), "Olá"),  # junk and too much padding
        (b"Ol=C3=A1, at=\r\n=C3=A9 logo=\r\n", part("quoted-printable"), "Olá, até logo"),
        (b"Cota=E7=E3o", part("quoted-printable", "iso-8859-1"), "Cotação"),
        ("Cotação".encode("latin-1"), part("8bit", "ISO-8859-1"), "Cotação"),
        ("Cotação".encode("latin-1"), part("8bit", "latin1"), "Cotação"),
        ("“Olá” – €5".encode("cp1252"), part("8bit", "iso8859-1"), "“Olá” – €5"),
        ("“Olá” – €5".encode("cp1252"), part("8bit", "windows-1252"), "“Olá” – €5"),
        ("Olá".encode(), part("8bit", "utf8"), "Olá"),
        ("Olá".encode(), part("8bit", "x-unknown-charset"), "Olá"),
        ("Olá".encode("cp1252"), part("8bit", "x-unknown-charset"), "Olá"),
        ("Olá".encode("cp1252"), part("8bit", "utf-8"), "Olá"),  # mislabelled
        ("Olá".encode(), part("8bit", None), "Olá"),
        (b"a\x81\x8d b", part("binary", "windows-1252"), "a\ufffd\ufffd b"),
        (b"line 1\r\nline 2\r\n", part("7bit", "us-ascii"), "line 1\nline 2\n"),
        ("Olá".encode(), part("x-uuencode", "base64"), "Olá"),
        (
            b'<meta charset="iso-8859-1"><p>Cota\xe7\xe3o</p>',
            part("8bit", None, "text/html"),
            '<meta charset="iso-8859-1"><p>Cotação</p>',
        ),
    ],
)
def test_text_parts_are_decoded_with_fallbacks(
    payload: bytes, body_part: Part, expected: str
) -> None:
    assert decode_part(payload, body_part) == expected


def test_html_to_text_keeps_visible_text_and_block_breaks() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<script>var x = '<p>no</p>';</script><h1>Proposta</h1><p>Ol&aacute;,&nbsp;Ana</p>"
        "<div>Linha<br>quebrada<br/>aqui</div><table><tr><td>a</td><td>b</td></tr></table>"
        "<ul><li>um</li><li>dois</li></ul></body></html>"
    )
    assert (
        html_to_text(html) == "Proposta\n\nOlá, Ana\n\nLinha\nquebrada\naqui\n\na b\n\num\n\ndois"
    )


def test_html_to_text_survives_unclosed_head_elements() -> None:
    assert (
        html_to_text("<html><head><title>Oferta<body><p>Oi, Ana</p><p>Tchau") == "Oi, Ana\n\nTchau"
    )


# --- nothing to read, NUL characters, charsets Python refuses ------------------------------

BLANK = RawEnvelope(None, None, (), (), (), (), (), (), None, None)


@pytest.mark.parametrize(
    ("size", "what"), [(0, "empty message"), (20, "no headers")], ids=["empty", "headerless"]
)
def test_message_without_any_header_is_unreadable(size: int, what: str) -> None:
    with pytest.raises(ParseError, match=f"^UID 7: {what}$"):
        meta_from_fetch(fetch(envelope=BLANK, bodystructure=leaf("text/plain", size=size)))


def test_message_with_one_envelope_field_is_still_read() -> None:
    result = meta(envelope=replace(BLANK, subject="Só o assunto".encode()), header_fields=b"")
    assert (result.subject, result.from_) == ("Só o assunto", ())


def test_nul_is_stripped_from_subjects_names_headers_and_bodies() -> None:
    result = meta(
        envelope=envelope(
            subject=b"=?utf-8?B?T2zDoQBtdW5kbw==?=",
            from_=(addr("ana@cliente.com.br", b"=?utf-8?Q?A=00na?="),),
        ),
        header_fields=b"References: <a@x>\r\n",
    )
    assert (result.subject, result.from_[0].name) == ("Olámundo", "Ana")
    part = Part("1", "text/plain", "utf-8", "base64", 20, None, None, False)
    assert decode_part(b"UHJlw6dvAABmaW5hbAo=", part) == "Preçofinal\n"
    assert mime.decode_bytes(b"a\x00b", "latin-1") == ("ab", True)


@pytest.mark.parametrize(
    ("charset", "data"),
    [("undefined", "Olá".encode()), ("punycode", b"Pedido.."),
     ("utf-8\x00", "Olá".encode())],
)  # fmt: skip
def test_charsets_that_python_cannot_use_fall_back_to_utf8(charset: str, data: bytes) -> None:
    assert mime.decode_bytes(data, charset)[0] == data.decode()
