"""Broken mail through a real Dovecot: every unreadable message is a parse error with its
cause, the rest of the batch is stored, no NUL is stored, and a broken attachment downloads."""

from __future__ import annotations

import binascii
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import Attachment, Email, SkippedMessage
from dashboard.sync import engine as engine_module
from tests.support.clients import log_in
from tests.support.sync import (
    HOSTILE_HTML,
    L1,
    LEADS,
    STORED,
    MailMaker,
    append_mails,
    connect,
    make_lead,
    raw_message,
    simple_mail,
    sync,
)

LEAD1 = LEADS[L1][0]


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA, as an operator would set IMAP_CA_FILE."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def box(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A connected mailbox with the lead L1: (Dovecot user, mailbox id, mail maker)."""
    mailbox_id = connect(app, mailbox_user)
    make_lead(app.extensions["leadsync.engine"], L1, LEAD1)
    return SimpleNamespace(user=mailbox_user, id=mailbox_id, maker=MailMaker(mailbox_user.address))


def from_lead(box, key: str, head: str, body: bytes, subject: str = "Assunto") -> object:  # type: ignore[no-untyped-def]
    """A raw message from the lead to the mailbox owner (to be stored)."""
    return raw_message(
        box.maker, key, sender=LEAD1, subject=subject, fate=STORED,
        head=f"From: Cliente <{LEAD1}>\nTo: {box.user.address}\n{head}", body=body,
    )  # fmt: skip


def append_bare(box, data: bytes) -> int:  # type: ignore[no-untyped-def]
    """Append bytes exactly as given (no Date or Message-ID added); return the UID."""
    return box.user.append("INBOX", data)


def skips(engine, mailbox_id: int) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """UID -> (reason, detail) of the mailbox's ledger."""
    with read_session(engine) as session:
        rows = session.scalars(
            select(SkippedMessage).where(SkippedMessage.mailbox_id == mailbox_id)
        )
        return {row.uid: (row.reason, row.detail) for row in rows}


def stored_emails(engine) -> dict[str, Email]:  # type: ignore[no-untyped-def]
    """Message-ID -> Email row."""
    with read_session(engine) as session:
        return {e.message_id: e for e in session.scalars(select(Email))}


def test_unreadable_messages_are_parse_errors_and_the_batch_is_stored(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    first = simple_mail(box.maker, "first", sender=LEAD1, to=box.user.address, fate=STORED)
    html = from_lead(
        box, "html_assert", "Subject: Marcado\nContent-Type: text/html; charset=utf-8",
        HOSTILE_HTML,
    )  # fmt: skip
    undefined = from_lead(
        box, "undefined_charset",
        "Subject: =?undefined?Q?Pedido?=\nContent-Type: text/plain; charset=undefined",
        b"Pedido de compra\r\n",
    )  # fmt: skip
    last = simple_mail(box.maker, "last", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [first, html, undefined])
    # Dovecot refuses a zero-byte APPEND ("Can't save a zero byte message"): the emptiest
    # message it keeps is a lone blank line. Then one with a body and no header at all.
    empty = append_bare(box, b"\r\n")
    headerless = append_bare(box, b"\r\nUma linha sem cabe\xc3\xa7alho.\r\n")
    append_mails(box.user, [last])

    result = sync(app, box.id)

    assert (result.error_code, result.error) == (None, "")
    ledger = skips(engine, box.id)
    assert Counter(reason for reason, _ in ledger.values()) == {"parse_error": 3}
    assert ledger[html.uid][1].startswith("AssertionError: unknown status keyword 'foo'")
    assert ledger[empty][1] == f"ParseError: UID {empty}: empty message"
    assert ledger[headerless][1] == f"ParseError: UID {headerless}: no headers"
    emails = stored_emails(engine)
    assert set(emails) == {first.message_id, undefined.message_id, last.message_id}
    # "undefined" is a Python codec that refuses everything: read as UTF-8, as unknown ones are
    assert emails[undefined.message_id].subject == "Pedido"
    assert emails[undefined.message_id].body_text == "Pedido de compra\n"


def test_empty_and_headerless_messages_are_unreadable_not_no_lead(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    empty = append_bare(box, b"\r\n")
    headerless = append_bare(box, b"\r\nUma linha sem cabe\xc3\xa7alho.\r\n")
    body_only = append_bare(box, b"Sem dois-pontos nesta linha\r\nnem nesta\r\n")

    assert sync(app, box.id).error_code is None

    assert {uid: reason for uid, (reason, _) in skips(engine, box.id).items()} == {
        empty: "parse_error", headerless: "parse_error", body_only: "parse_error",
    }  # fmt: skip


def test_a_charset_python_refuses_to_decode_falls_back_instead_of_stopping_the_round(
    app, engine, box
) -> None:  # type: ignore[no-untyped-def]
    # "undefined" is a Python codec that refuses every byte (with a bare UnicodeError)
    mail = from_lead(
        box, "undefined", "Subject: =?undefined?Q?Pedido?=\n"
        "Content-Type: text/plain; charset=undefined", b"Pedido de compra..\r\n",
    )  # fmt: skip
    append_mails(box.user, [mail])

    assert sync(app, box.id).error_code is None

    assert skips(engine, box.id) == {}
    assert {(e.subject, e.body_text) for e in stored_emails(engine).values()} == {
        ("Pedido", "Pedido de compra..\n")
    }


def test_nul_characters_are_never_stored(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    subject = from_lead(
        box, "nul_subject", "Subject: =?utf-8?B?T2zDoQBtdW5kbw==?=\nContent-Type: text/plain",
        b"Corpo normal\r\n",
    )  # fmt: skip
    body = from_lead(
        box, "nul_body",
        "Subject: Corpo com NUL\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        b"UHJlw6dvAABmaW5hbAo=\r\n",  # "Preço\0\0final\n"
    )  # fmt: skip
    name = from_lead(
        box, "nul_name", "Subject: Nome\nContent-Type: text/plain", b"Oi\r\n",
    )  # fmt: skip
    name.data = name.data.replace(b"From: Cliente", b"From: =?utf-8?Q?Cli=00ente?=")
    append_mails(box.user, [subject, body, name])

    result = sync(app, box.id)

    assert result.error_code is None and skips(engine, box.id) == {}
    emails = stored_emails(engine)
    assert emails[subject.message_id].subject == "Olámundo"
    assert emails[body.message_id].body_text == "Preçofinal\n"
    assert emails[name.message_id].from_name == "Cliente"
    for email in emails.values():
        for text in (email.subject, email.body_text, email.body_html, email.from_name):
            assert "\x00" not in text
            assert text.encode("utf-8").decode("utf-8") == text


def test_attachment_with_broken_base64_downloads_its_best_effort_bytes(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    boundary = "limite"
    # Not base64: 21 letters of the alphabet (21 % 4 == 1, which no decoder accepts) and junk.
    broken = b"Documentos indispon\xc3\xadvel!"
    mail = from_lead(
        box, "broken_base64",
        "Subject: Anexo quebrado\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSegue o anexo.\r\n"
            f"--{boundary}\r\nContent-Type: application/pdf; name=proposta.pdf\r\n"
            "Content-Disposition: attachment; filename=proposta.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode() + broken + f"\r\n--{boundary}--\r\n".encode(),
    )  # fmt: skip
    append_mails(box.user, [mail])
    assert sync(app, box.id).error_code is None
    with read_session(engine) as session:
        attachment = session.scalars(select(Attachment)).one()
    client = log_in(app.test_client(), box.user.address)

    response = client.get(f"/attachments/{attachment.id}")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    # What could be read: the first 20 letters (the 21st alone cannot make a byte).
    assert response.data == binascii.a2b_base64(b"Documentosindisponve")


def test_any_exception_while_reading_headers_is_a_parse_error(
    app, engine, box, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The one monkeypatched parser here: no real header input is known to make
    meta_from_fetch raise any more (the decoders above were its last ones), so a
    RecursionError stands in for the next surprise; the server and the mail are real."""
    mails = [
        simple_mail(box.maker, f"m{i}", sender=LEAD1, to=box.user.address, fate=STORED)
        for i in range(3)
    ]
    append_mails(box.user, mails)
    real = engine_module.meta_from_fetch

    def surprising(raw, **kwargs):  # type: ignore[no-untyped-def]
        if raw.uid == mails[1].uid:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, **kwargs)

    monkeypatch.setattr(engine_module, "meta_from_fetch", surprising)

    assert sync(app, box.id).error_code is None

    assert skips(engine, box.id) == {
        mails[1].uid: ("parse_error", "RecursionError: maximum recursion depth exceeded")
    }
    assert set(stored_emails(engine)) == {mails[0].message_id, mails[2].message_id}
