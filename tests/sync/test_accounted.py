"""Every message accounted for, through a real Dovecot: a mailbox of duplicates, twins and
broken mail ends each round with fetched = stored + seen again + skipped by reason, every
(folder, UID) on the server has a Sighting or a ledger row, the same message stays one
email wherever it is, two messages sharing a Message-ID stay two, and no page of it fails."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from dashboard.db.engine import read_session, write_session
from dashboard.mailboxes.status import skipped_counts
from dashboard.models import Attachment, Email, EmailLead, Sighting, SkippedMessage, SyncRun
from dashboard.sync.accounting import adds_up
from dashboard.sync.store.batch import BatchPlace
from dashboard.sync.store.commit import check_accounted
from tests.support.clients import log_in
from tests.support.servers.dovecot import MailboxUser, new_user
from tests.support.sync import (
    HOSTILE_HTML,
    L1,
    LEADS,
    SENT,
    STORED,
    STRANGER,
    Mail,
    MailMaker,
    append_mails,
    connect,
    make_lead,
    raw_message,
    set_mailbox,
    simple_mail,
    sync,
)

LEAD1 = LEADS[L1][0]
CLIENTS = "Clientes"


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA, as an operator would set IMAP_CA_FILE."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def box(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A connected mailbox syncing INBOX, Sent and "Clientes", with the lead L1."""
    mailbox_id = connect(app, mailbox_user)
    with mailbox_user.connect() as client:
        client.create_folder(CLIENTS)
    set_mailbox(engine, mailbox_id, folders=["INBOX", SENT, CLIENTS])
    make_lead(engine, L1, LEAD1)
    return SimpleNamespace(user=mailbox_user, id=mailbox_id, maker=MailMaker(mailbox_user.address))


def from_lead(box, key: str, head: str, body: bytes) -> Mail:  # type: ignore[no-untyped-def]
    """A raw message from the lead to the mailbox owner."""
    return raw_message(
        box.maker, key, sender=LEAD1, subject=key, fate=STORED,
        head=f"From: Cliente <{LEAD1}>\nTo: {box.user.address}\n{head}", body=body,
    )  # fmt: skip


def twin_of(mail: Mail, other: Mail) -> Mail:
    """`other` under `mail`'s Message-ID: a different message a broken mailer numbered alike."""
    data = other.data.replace(other.message_id.encode(), mail.message_id.encode())
    return replace(other, data=data, message_id=mail.message_id, uid=0)


def broken_mailbox(box):  # type: ignore[no-untyped-def]
    """Append the issue's cases; return the mails by name and the bare UIDs."""
    me, m = box.user.address, box.maker
    first = simple_mail(m, "first", sender=LEAD1, to=me, fate=STORED, body="Primeira.\n")
    twin_a = simple_mail(m, "twin_a", sender=LEAD1, to=me, fate=STORED, body="Gêmeo A.\n")
    twin_b = twin_of(twin_a, simple_mail(m, "twin_b", sender=LEAD1, to=me, fate=STORED))
    mails = {
        "first": first,
        "first_again": replace(first, uid=0),  # the same bytes twice in INBOX: one batch
        "twin_a": twin_a,
        "twin_b": twin_b,
        "hostile_html": from_lead(
            box, "hostile_html", "Subject: Marcado\nContent-Type: text/html; charset=utf-8",
            HOSTILE_HTML,
        ),
        "broken_base64": from_lead(
            box, "broken_base64",
            'Subject: Anexo\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
            b"--b\r\nContent-Type: text/plain\r\n\r\nSegue.\r\n--b\r\n"
            b"Content-Type: application/pdf; name=p.pdf\r\nContent-Disposition: attachment;"
            b" filename=p.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"Documentos indispon\xc3\xadvel!\r\n--b--\r\n",
        ),
        "nul_subject": from_lead(
            box, "nul_subject", "Subject: =?utf-8?B?T2zDoQBtdW5kbw==?=\nContent-Type: text/plain",
            b"Corpo\r\n",
        ),
        "nul_body": from_lead(
            box, "nul_body", "Subject: Corpo NUL\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: base64", b"UHJlw6dvAABmaW5hbAo=\r\n",
        ),
        "stranger": simple_mail(m, "stranger", sender=STRANGER, to=me, fate="no_lead"),
        "sent": simple_mail(m, "sent", sender=me, to=LEAD1, fate=STORED, folder=SENT),
        "first_in_clients": replace(first, folder=CLIENTS, uid=0),
        "twin_b_in_clients": replace(twin_b, folder=CLIENTS, uid=0),
    }  # fmt: skip
    append_mails(box.user, list(mails.values()))
    # Dovecot refuses a zero-byte APPEND: the emptiest message it keeps is a blank line.
    bare = [
        box.user.append("INBOX", b"\r\n"),
        box.user.append("INBOX", b"\r\nSem cabe\xc3\xa7alho\r\n"),
    ]
    return mails, bare


def server_places(user: MailboxUser, folders: list[str]) -> set[tuple[str, int, int]]:
    """(folder, UIDVALIDITY, UID) of every message on the server in these folders."""
    places = set()
    with user.connect() as client:
        for folder in folders:
            status = client.select_folder(folder, readonly=True)
            uidvalidity = status[b"UIDVALIDITY"]
            places |= {(folder, uidvalidity, uid) for uid in client.search("ALL")}
    return places


def recorded_places(engine, mailbox_id: int) -> tuple[Counter, Counter]:  # type: ignore[no-untyped-def]
    """(folder, UIDVALIDITY, UID) of the mailbox's sightings and of its ledger rows."""
    with read_session(engine) as session:
        sightings = Counter(
            session.execute(
                select(Sighting.folder, Sighting.uidvalidity, Sighting.uid).where(
                    Sighting.mailbox_id == mailbox_id
                )
            ).all()
        )
        ledger = Counter(
            session.execute(
                select(SkippedMessage.folder, SkippedMessage.uidvalidity, SkippedMessage.uid).where(
                    SkippedMessage.mailbox_id == mailbox_id
                )
            ).all()
        )
    return sightings, ledger


def assert_every_place_accounted_once(engine, box, folders: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Each message on the server has exactly one row: a Sighting or a ledger row."""
    sightings, ledger = recorded_places(engine, box.id)
    assert set(sightings) & set(ledger) == set()
    assert sightings + ledger == Counter(server_places(box.user, folders))


def history_rows(engine, mailbox_id: int) -> list[SyncRun]:  # type: ignore[no-untyped-def]
    """The mailbox's rounds, oldest first."""
    with read_session(engine) as session:
        query = select(SyncRun).where(SyncRun.mailbox_id == mailbox_id).order_by(SyncRun.id)
        return list(session.scalars(query))


def test_broken_mailbox_every_message_accounted_for(app, engine, box, dovecot_server) -> None:  # type: ignore[no-untyped-def]
    mails, bare = broken_mailbox(box)
    teammate = new_user(dovecot_server)
    teammate_id = connect(app, teammate)
    append_mails(teammate, [replace(mails["first"], uid=0)])

    result = sync(app, box.id)

    assert (result.error_code, result.error) == (None, "")
    assert result.totals() == {
        "fetched": 14, "stored": 7, "seen_again": 3, "leads_created": 0,
        "skipped": {"parse_error": 3, "no_lead": 1},
    }  # fmt: skip
    by_folder = {f.folder: (f.fetched, f.stored, f.seen_again, f.skipped) for f in result.folders}
    assert by_folder == {
        "INBOX": (11, 6, 1, {"parse_error": 3, "no_lead": 1}),
        SENT: (1, 1, 0, {}),
        CLIENTS: (2, 0, 2, {}),
    }
    with read_session(engine) as session:
        ledger = {
            row.uid: (row.reason, row.detail) for row in session.scalars(select(SkippedMessage))
        }
    assert ledger[mails["hostile_html"].uid][1].startswith("AssertionError: unknown status")
    assert ledger[bare[0]] == ("parse_error", f"ParseError: UID {bare[0]}: empty message")
    assert ledger[bare[1]] == ("parse_error", f"ParseError: UID {bare[1]}: no headers")
    assert ledger[mails["stranger"].uid][0] == "no_lead"
    assert_every_place_accounted_once(engine, box, ["INBOX", SENT, CLIENTS])

    assert sync(app, teammate_id).totals() == {
        "fetched": 1, "stored": 0, "seen_again": 1, "leads_created": 0, "skipped": {},
    }  # fmt: skip
    again = sync(app, box.id)
    assert again.totals()["fetched"] == 0
    for run in [*history_rows(engine, box.id), *history_rows(engine, teammate_id)]:
        assert adds_up(run.fetched, run.stored, run.seen_again, run.skipped), run
    assert [(r.fetched, r.stored, r.seen_again) for r in history_rows(engine, box.id)] == [
        (14, 7, 3),
        (0, 0, 0),
    ]

    with read_session(engine) as session:
        emails = list(session.scalars(select(Email).order_by(Email.id)))
        places = Counter(
            (email_id, mailbox_id, folder)
            for email_id, mailbox_id, folder in session.execute(
                select(Sighting.email_id, Sighting.mailbox_id, Sighting.folder)
            )
        )
    twins = [e for e in emails if e.message_id == mails["twin_a"].message_id]
    assert sorted(e.body_text for e in twins) == ["Gêmeo A.\n", "Olá.\n"]  # two emails
    first = [e for e in emails if e.message_id == mails["first"].message_id]
    assert len(first) == 1  # one email: twice in INBOX, in Clientes, in the teammate's INBOX
    assert places[(first[0].id, box.id, "INBOX")] == 2
    assert places[(first[0].id, box.id, CLIENTS)] == 1
    assert places[(first[0].id, teammate_id, "INBOX")] == 1
    assert len(emails) == 7


def test_every_page_of_the_broken_mailbox_answers(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    broken_mailbox(box)
    assert sync(app, box.id).error_code is None
    with read_session(engine) as session:
        sighted = select(Sighting.email_id).where(Sighting.mailbox_id == box.id)
        email_ids = set(session.scalars(sighted))
        lead_ids = set(
            session.scalars(select(EmailLead.lead_id).where(EmailLead.email_id.in_(email_ids)))
        )
        attachment_ids = set(
            session.scalars(select(Attachment.id).where(Attachment.email_id.in_(email_ids)))
        )
    assert email_ids and lead_ids and attachment_ids
    client = log_in(app.test_client(), box.user.address)
    urls = {"/leads/", "/settings/mailbox"}
    urls |= {f"/leads/{lead}" for lead in lead_ids}
    urls |= {f"/emails/{e}/{view}" for e in email_ids for view in ("body", "frame")}
    urls |= {f"/attachments/{a}" for a in attachment_ids}
    for lead in lead_ids:  # and every link a lead page shows
        html = client.get(f"/leads/{lead}").get_data(as_text=True)
        urls |= {
            link.replace("&amp;", "&")
            for link in re.findall(r'(?:href|hx-get|src)="(/[^"]*)"', html)
            if not link.startswith(("/logout", "/static/"))
        }
    answers = {url: client.get(url).status_code for url in sorted(urls)}
    assert {url: code for url, code in answers.items() if code >= 400} == {}


def test_a_skip_the_relink_pass_overturns_is_counted_once(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """INBOX first: a reply from a stranger is "no lead"; then Sent creates that lead, and the
    round's second pass links the reply. One message, one verdict in the history."""
    me, new_person = box.user.address, "novo@prospect.test"
    reply = simple_mail(box.maker, "reply", sender=new_person, to=me, fate=STORED)
    sent = simple_mail(box.maker, "intro", sender=me, to=new_person, fate=STORED, folder=SENT)
    append_mails(box.user, [reply, sent])

    result = sync(app, box.id)

    assert result.totals() == {
        "fetched": 2, "stored": 2, "seen_again": 0, "leads_created": 1, "skipped": {},
    }  # fmt: skip
    (run,) = history_rows(engine, box.id)
    assert (run.fetched, run.stored, run.seen_again, run.skipped) == (2, 2, 0, {})
    assert_every_place_accounted_once(engine, box, ["INBOX", SENT, CLIENTS])


def test_a_message_left_without_a_row_is_logged_loudly(app, engine, box, caplog) -> None:  # type: ignore[no-untyped-def]
    mail = simple_mail(box.maker, "m", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [mail])
    assert sync(app, box.id).error_code is None
    with read_session(engine) as session:
        uidvalidity = session.scalars(select(Sighting.uidvalidity)).one()
    place = BatchPlace(box.id, 0, "INBOX", uidvalidity)

    with caplog.at_level(logging.ERROR), write_session(engine) as session:
        check_accounted(session, place, [mail.uid])
        assert caplog.records == []
        check_accounted(session, place, [mail.uid, 999])

    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "UIDs [999]" in caplog.records[0].getMessage()


def test_skipped_twins_count_as_two_messages_and_their_copies_once(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    me = box.user.address
    one = simple_mail(box.maker, "one", sender=STRANGER, to=me, fate="no_lead")
    two = twin_of(one, simple_mail(box.maker, "two", sender=STRANGER, to=me, fate="no_lead"))
    append_mails(box.user, [one, two, replace(one, folder=CLIENTS, uid=0)])

    assert sync(app, box.id).totals()["skipped"] == {"no_lead": 3}  # three fetched

    with read_session(engine) as session:
        assert skipped_counts(session, box.id) == {"no_lead": 2}  # two messages


def test_a_rescan_never_copies_an_email_whose_fingerprint_was_computed_otherwise(
    app, engine, box
) -> None:  # type: ignore[no-untyped-def]
    """Rows from an older parser may hold another fingerprint for the same message: the
    message at a place where its email was seen is that email, seen again."""
    mail = simple_mail(box.maker, "old", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [mail])
    assert sync(app, box.id).totals()["stored"] == 1
    with write_session(engine) as session:
        session.execute(update(Email).values(fingerprint="from-an-older-parser"))
    set_mailbox(engine, box.id, rescan_since=datetime.now(UTC) - timedelta(days=30))

    result = sync(app, box.id)

    assert (result.totals()["stored"], result.totals()["seen_again"]) == (0, 1)
    with read_session(engine) as session:
        assert len(session.scalars(select(Email)).all()) == 1
