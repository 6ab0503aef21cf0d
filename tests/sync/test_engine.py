"""The sync engine against a real Dovecot: what is stored, skipped, linked, and fetched."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import pytest
from imapclient import response_lexer, response_parser
from sqlalchemy import event, func, select

from dashboard.db.engine import (
    IMMEDIATE,
    PAGE_CACHE_KIB,
    SYNC_CACHE_KIB,
    read_session,
    write_session,
)
from dashboard.mail import imap_fetch
from dashboard.models import (
    Attachment,
    Email,
    EmailLead,
    FolderCursor,
    Lead,
    LeadAddress,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    SyncRun,
)
from dashboard.sync.runner import AUTH_RETRIES, HISTORY, RunOptions, due_mailbox_ids, run_round
from tests.support import factories
from tests.support.servers.dovecot import free_port, new_user
from tests.support.sync import (
    COLLEAGUE,
    FAMILY,
    L1,
    LEADS,
    SENT,
    STORED,
    STRANGER,
    MailMaker,
    add_lead_and_relink,
    append_mails,
    connect,
    count_rows,
    email_for,
    fresh_app,
    imap_commands,
    lead_names,
    ledger,
    mailbox_row,
    make_lead,
    prepare,
    raw_message,
    realistic_mailbox,
    server_flags,
    set_company,
    set_mailbox,
    simple_mail,
    snapshot,
    sync,
)

LEAD1 = LEADS[L1][0]


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """Trust the test CA, as an operator would set IMAP_CA_FILE."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def box(app, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A connected mailbox: (Dovecot user, mailbox id, mail maker for its owner)."""
    mailbox_id = connect(app, mailbox_user)
    return SimpleNamespace(user=mailbox_user, id=mailbox_id, maker=MailMaker(mailbox_user.address))


# --- the realistic mailbox, synced once for the read-only checks ------------------------


@pytest.fixture(scope="module")
def realistic(dovecot_server, migrated_db, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A generated rep mailbox synced in one round; what the round did and fetched."""
    app = fresh_app(tmp_path_factory.mktemp("realistic"), migrated_db, dovecot_server.ca_file)
    engine = app.extensions["leadsync.engine"]
    factories.setup_company(engine)
    user = new_user(dovecot_server)
    scenario = realistic_mailbox(user.address)
    append_mails(user, scenario.mails)
    flags_before = {f: server_flags(user, f) for f in ("INBOX", SENT)}
    mailbox_id = connect(app, user)
    prepare(app, scenario)
    with pytest.MonkeyPatch.context() as mp, imap_commands(mp) as log:
        result = sync(app, mailbox_id)
    yield SimpleNamespace(
        app=app, engine=engine, user=user, scenario=scenario, mailbox_id=mailbox_id,
        result=result, log=log, flags_before=flags_before,
    )  # fmt: skip
    engine.dispose()


def test_realistic_mailbox_round_succeeds(realistic) -> None:  # type: ignore[no-untyped-def]
    result = realistic.result
    assert (result.ran, result.error_code, result.error) == (True, None, "")
    assert mailbox_row(realistic.engine, realistic.mailbox_id).status == "connected"


def test_realistic_mailbox_exact_counts_per_reason(realistic) -> None:  # type: ignore[no-untyped-def]
    scenario, totals = realistic.scenario, realistic.result.totals()
    assert totals["fetched"] == len(scenario.synced())
    assert totals["stored"] == len(scenario.stored())
    assert totals["skipped"] == dict(scenario.expected_skips())
    assert totals["leads_created"] == len(scenario.created_leads)
    assert count_rows(realistic.engine, Email) == len(scenario.stored())


def test_every_skipped_message_has_its_ledger_row(realistic) -> None:  # type: ignore[no-untyped-def]
    expected = {(m.folder, m.uid): m.fate for m in realistic.scenario.synced() if m.fate != STORED}
    assert ledger(realistic.engine, realistic.mailbox_id) == expected
    with read_session(realistic.engine) as session:
        no_lead = {
            (s.folder, s.uid): (tuple(s.addresses), s.message_id)
            for s in session.scalars(
                select(SkippedMessage).where(SkippedMessage.reason == "no_lead")
            )
        }
        indexed = set(session.scalars(select(SkippedAddress.address)))
    wanted = {
        (m.folder, m.uid): (m.outsiders, m.message_id)
        for m in realistic.scenario.synced()
        if m.fate == "no_lead"
    }
    assert no_lead == wanted
    assert indexed >= {a for m in realistic.scenario.synced() for a in m.outsiders}
    assert not indexed & {FAMILY, COLLEAGUE, realistic.user.address}  # never relinkable


def test_stored_emails_link_exactly_the_expected_leads(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        got = {}
        for mail in realistic.scenario.stored():
            email = email_for(session, mail)
            assert email is not None, f"{mail.key} was not stored"
            got[mail.key] = lead_names(session, email.id)
        total_links = session.scalar(select(func.count()).select_from(EmailLead))
    assert got == {m.key: m.leads for m in realistic.scenario.stored()}
    assert total_links == sum(len(m.leads) for m in realistic.scenario.stored())


def test_stored_emails_have_the_right_direction_and_one_sighting(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        for mail in realistic.scenario.stored():
            email = email_for(session, mail)
            assert email.direction == mail.direction, mail.key
            places = session.execute(
                select(Sighting.folder, Sighting.uid).where(Sighting.email_id == email.id)
            ).all()
            assert places == [(mail.folder, mail.uid)], mail.key


def test_replies_share_their_threads_key(realistic) -> None:  # type: ignore[no-untyped-def]
    """sent_root (Sent) starts a thread whose reply reply_in sits in INBOX, synced first."""
    with read_session(realistic.engine) as session:
        keys = {m.key: email_for(session, m).thread_key for m in realistic.scenario.stored()}
    threads: dict[str, set[str]] = {}
    for mail in realistic.scenario.stored():
        threads.setdefault(mail.thread, set()).add(keys[mail.key])
    assert {t: len(k) for t, k in threads.items() if len(k) != 1} == {}
    assert len({next(iter(k)) for k in threads.values()}) == len(threads)
    assert keys["reply_in"] == keys["sent_root"]
    assert keys["sent_reply"] == keys["root_in"] == keys["reply_reply"]


def test_attachments_are_described_not_downloaded(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        for mail in realistic.scenario.stored():
            email = email_for(session, mail)
            rows = session.scalars(select(Attachment).where(Attachment.email_id == email.id))
            got = sorted((a.filename, a.content_type, a.section, a.inline) for a in rows)
            assert got == sorted(mail.attachments), mail.key
            assert email.has_attachments == bool(mail.attachments), mail.key
        pdf = session.scalars(select(Attachment).where(Attachment.filename == "proposta.pdf")).one()
    # The size the server reports for the part (base64 octets of a 2 KB file).
    assert 2048 < pdf.size < 2048 * 1.4 + 100
    attachment_sections = {
        (m.uid, a[2]) for m in realistic.scenario.stored() for a in m.attachments
    }
    assert {m.folder for m in realistic.scenario.stored() if m.attachments} == {"INBOX"}
    fetched_sections = {
        (uid, item)
        for folder, uids, items in realistic.log.fetched()
        if folder == "INBOX"
        for uid in uids
        for item in items
    }
    downloaded = {
        (uid, section)
        for uid, section in attachment_sections
        if (uid, f"BODY.PEEK[{section}]") in fetched_sections
    }
    assert downloaded == set()


def test_bodies_subjects_and_names_are_decoded(realistic) -> None:  # type: ignore[no-untyped-def]
    found = realistic.scenario.by_key()
    with read_session(realistic.engine) as session:
        emails = {k: email_for(session, m) for k, m in found.items() if m.fate == STORED}
    for key, email in emails.items():
        assert found[key].body_has in email.body_text, key
    assert emails["root_in"].subject == "Orçamento de serviços"
    assert emails["html_only"].subject == "Sincronização"
    assert emails["html_only"].from_name == "João Gonçalves"
    assert "<p>Sincronização concluída</p>" in emails["html_only"].body_html
    assert emails["alternative"].body_text.strip() == "Texto simples da proposta."
    assert "<b>rico</b>" in emails["alternative"].body_html
    assert emails["sent_bcc_lead"].bcc_addrs == ["maria@exemplo.com.br"]


def test_message_without_message_id_gets_a_stable_synthetic_one(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        email = email_for(session, realistic.scenario.by_key()["no_message_id"])
    assert email.synthetic_id
    assert email.message_id.endswith("@leadsync.synthetic>")


def test_broken_message_is_stored_with_its_problems(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        email = email_for(session, realistic.scenario.by_key()["broken"])
    assert any("Date" in p for p in email.problems)
    assert email.date.year != 2024 or email.date.month != 2  # fell back to INTERNALDATE
    assert isinstance(email.body_text, str)


def test_outbound_mail_to_a_new_person_creates_one_lead(realistic) -> None:  # type: ignore[no-untyped-def]
    with read_session(realistic.engine) as session:
        created = session.execute(
            select(LeadAddress.address, Lead.name, Lead.state, Lead.source)
            .join(Lead)
            .where(Lead.source == "sync")
        ).all()
        names = set(session.scalars(select(Lead.name)))
    assert [(a, (n, s)) for a, n, s, _ in created] == list(realistic.scenario.created_leads.items())
    assert names == {*LEADS, "Novo Cliente"}  # nobody from never-log, no-reply or internal


def test_sync_never_changes_flags_on_the_server(realistic) -> None:  # type: ignore[no-untyped-def]
    after = {f: server_flags(realistic.user, f) for f in ("INBOX", SENT)}
    assert after == realistic.flags_before
    assert any(b"\\Seen" not in flags for flags in after["INBOX"].values())
    marking = [
        item
        for _folder, _uids, items in realistic.log.fetched()
        for item in items
        if item.upper().startswith("BODY[") or item.upper() in ("RFC822", "RFC822.TEXT")
    ]
    assert marking == []


def test_mail_outside_the_import_window_is_never_fetched(realistic) -> None:  # type: ignore[no-untyped-def]
    old = realistic.scenario.by_key()["old"]
    fetched_inbox = {
        uid for folder, uids, _items in realistic.log.fetched() if folder == "INBOX"
        for uid in uids
    }  # fmt: skip
    assert old.uid not in fetched_inbox
    assert fetched_inbox == {m.uid for m in realistic.scenario.synced() if m.folder == "INBOX"}
    with read_session(realistic.engine) as session:
        assert email_for(session, old) is None
        cursor = session.scalars(select(FolderCursor).where(FolderCursor.folder == "INBOX")).one()
    assert cursor.last_uid == max(m.uid for m in realistic.scenario.mails if m.folder == "INBOX")
    assert ("INBOX", old.uid) not in ledger(realistic.engine)


def test_round_is_recorded_in_the_history(realistic) -> None:  # type: ignore[no-untyped-def]
    scenario = realistic.scenario
    with read_session(realistic.engine) as session:
        runs = session.scalars(select(SyncRun)).all()
    assert len(runs) == 1
    run = runs[0]
    assert (run.fetched, run.stored, run.leads_created) == (
        len(scenario.synced()), len(scenario.stored()), len(scenario.created_leads),
    )  # fmt: skip
    assert run.skipped == dict(scenario.expected_skips())
    assert run.error_code is None and run.seconds is not None and 0 < run.seconds < 30


# --- rounds after the first ---------------------------------------------------------------


def test_second_round_stores_nothing_and_issues_no_fetch(app, engine, box, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    scenario = realistic_mailbox(box.user.address)
    append_mails(box.user, scenario.mails)
    prepare(app, scenario)
    assert sync(app, box.id).totals()["stored"] == len(scenario.stored())
    before = snapshot(engine)
    names = ("fetch", "search", "select_folder", "folder_status", "login")
    with imap_commands(monkeypatch, names) as log:
        result = sync(app, box.id, connections=2)
    assert result.error_code is None
    assert result.totals() == {
        "fetched": 0, "stored": 0, "seen_again": 0, "leads_created": 0, "skipped": {}
    }  # fmt: skip
    assert (log.count("fetch"), log.count("search")) == (0, 0)
    assert log.count("select_folder") == 0  # no EXAMINE: one STATUS per folder said it all
    assert log.count("folder_status") == 2
    assert log.count("login") == 1  # one connection, not one per lane (two are allowed)
    assert snapshot(engine) == before
    with read_session(engine) as session:
        last = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert (last.fetched, last.stored, last.skipped) == (0, 0, {})


def test_a_round_examines_only_the_folder_with_new_mail_over_one_connection(
    app, engine, box, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, L1, LEAD1)
    first = simple_mail(box.maker, "first", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [first])
    assert sync(app, box.id).totals()["stored"] == 1
    new = simple_mail(box.maker, "new", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [new])
    names = ("select_folder", "folder_status", "login")
    with imap_commands(monkeypatch, names) as log:
        result = sync(app, box.id, connections=2)
    assert result.error_code is None and result.totals()["stored"] == 1
    assert [args[0] for name, args, _ in log.calls if name == "select_folder"] == ["INBOX"]
    assert log.count("folder_status") == 2  # every folder asked, only INBOX opened
    assert log.count("login") == 1  # the connection that asked STATUS syncs INBOX too
    assert [r.folder for r in result.folders] == ["INBOX", SENT]
    both = [
        simple_mail(box.maker, "in", sender=LEAD1, to=box.user.address, fate=STORED),
        simple_mail(box.maker, "out", sender=box.user.address, to=LEAD1, fate=STORED,
                    folder=SENT, leads=[L1], direction="out"),
    ]  # fmt: skip
    append_mails(box.user, both)
    with imap_commands(monkeypatch, names) as log:
        result = sync(app, box.id, connections=2)
    assert result.error_code is None and result.totals()["stored"] == 2
    assert sorted(args[0] for name, args, _ in log.calls if name == "select_folder") == [
        "INBOX", SENT,
    ]  # fmt: skip
    assert log.count("login") == 2  # a second lane for the second folder, no third connection


def test_a_round_with_nothing_new_reads_no_lead_and_finds_relink_flags_by_index(  # type: ignore[no-untyped-def]
    app, engine, box
) -> None:
    """The ledger grows with the mailbox (17,000 rows at 50,000 messages): the relink question
    every round asks must not walk it (migration 0017)."""
    scenario = realistic_mailbox(box.user.address)
    append_mails(box.user, scenario.mails)
    prepare(app, scenario)
    sync(app, box.id)
    asked: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT") and "FROM skippedmessage" in statement:
            asked.append((statement, parameters))

    def leads_read(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "FROM leadaddress" in statement:
            asked_leads.append(statement)

    asked_leads: list[str] = []
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "before_cursor_execute", leads_read)
    try:
        assert sync(app, box.id).totals()["fetched"] == 0
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "before_cursor_execute", leads_read)
    assert asked
    assert asked_leads == []  # thousands of lead addresses at 50,000 messages, needed by no rule
    with engine.connect() as conn:
        for statement, parameters in asked:
            plan = str(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all())
            assert "ix_skipped_relink" in plan, (statement, plan)


def test_the_sync_writes_with_a_small_page_cache(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """16 MB of page cache per pooled connection the sync touched was ~60 MB of a 50,000-message
    first sync's peak RSS: the sync's transactions use SQLite's default size instead."""
    make_lead(engine, L1, LEAD1)
    append_mails(
        box.user, [simple_mail(box.maker, "c", sender=LEAD1, to=box.user.address, fate=STORED)]
    )
    sizes: list[int] = []

    def record(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(IMMEDIATE):
            raw = conn.connection.driver_connection
            sizes.append(raw.execute("PRAGMA cache_size").fetchone()[0])

    event.listen(engine, "begin", record)
    try:
        assert sync(app, box.id, connections=2).totals()["stored"] == 1
    finally:
        event.remove(engine, "begin", record)
    assert sizes and set(sizes) == {-SYNC_CACHE_KIB}
    with read_session(engine) as session:  # the pages' sessions get their large cache back
        assert session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == (
            -PAGE_CACHE_KIB
        )


def test_a_round_installs_the_fast_fetch_parser(app, engine, box, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(response_lexer.Lexer, "__iter__", imap_fetch.ORIGINAL_LEXER_ITER)
    monkeypatch.setattr(
        response_parser, "gen_parsed_response", imap_fetch.ORIGINAL_GEN_PARSED_RESPONSE
    )
    make_lead(engine, L1, LEAD1)
    append_mails(
        box.user, [simple_mail(box.maker, "m", sender=LEAD1, to=box.user.address, fate=STORED)]
    )
    assert sync(app, box.id).totals()["stored"] == 1
    assert response_lexer.Lexer.__iter__ is imap_fetch.fast_lexer_iter
    assert response_parser.gen_parsed_response is imap_fetch.fast_gen_parsed_response


def test_appending_one_message_stores_exactly_one(app, engine, box, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, L1, LEAD1)
    first = [simple_mail(box.maker, f"m{i}", sender=LEAD1, to=box.user.address, fate=STORED)
             for i in range(3)]  # fmt: skip
    append_mails(box.user, first)
    assert sync(app, box.id).totals()["stored"] == 3
    new = simple_mail(box.maker, "new", sender=LEAD1, to=box.user.address, fate=STORED)
    append_mails(box.user, [new])
    with imap_commands(monkeypatch) as log:
        result = sync(app, box.id)
    assert result.totals() == {
        "fetched": 1, "stored": 1, "seen_again": 0, "leads_created": 0, "skipped": {}
    }  # fmt: skip
    assert [uids for _f, uids, _i in log.fetched()] == [[new.uid], [new.uid]]  # head, text
    assert count_rows(engine, Email) == 4


def test_same_message_in_inbox_and_sent_is_one_email_with_two_sightings(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, L1, LEAD1)
    mail = box.maker.message(
        "self_cc", sender=box.user.address, to=[LEAD1], cc=[box.user.address],
        text="Cópia para mim.\n", fate=STORED, leads=[L1], direction="out",
    )  # fmt: skip
    copy = raw_copy(mail, SENT)
    append_mails(box.user, [mail, copy])
    result = sync(app, box.id)
    assert result.totals()["stored"] == 1
    assert [f.seen_again for f in result.folders] == [0, 1]
    with read_session(engine) as session:
        email = session.scalars(select(Email)).one()
        places = set(session.execute(select(Sighting.folder, Sighting.uid)).all())
        assert lead_names(session, email.id) == {L1}
    assert places == {("INBOX", mail.uid), (SENT, copy.uid)}
    assert email.direction == "out"


def raw_copy(mail, folder):  # type: ignore[no-untyped-def]
    """The same bytes as another Mail in another folder."""
    return replace(mail, folder=folder, uid=0)


def test_same_message_in_two_reps_mailboxes_is_one_email(
    app, engine, admin, dovecot_server
) -> None:  # type: ignore[no-untyped-def]
    ana, bia = new_user(dovecot_server), new_user(dovecot_server)
    ids = [connect(app, ana), connect(app, bia)]
    make_lead(engine, L1, LEAD1)
    maker = MailMaker(ana.address)
    to_both = maker.message(
        "to_both", sender=LEAD1, to=[ana.address, bia.address], text="Para os dois.\n",
        fate=STORED,
    )  # fmt: skip
    from_ana = maker.message(
        "from_ana", sender=ana.address, to=[LEAD1], cc=[bia.address], folder=SENT,
        text="Ana escreve.\n", fate=STORED,
    )  # fmt: skip
    append_mails(ana, [to_both, from_ana])
    append_mails(bia, [raw_copy(to_both, "INBOX"), raw_copy(from_ana, "INBOX")])
    results = run_round(
        engine, app.extensions["leadsync.secrets"],
        RunOptions(ca_file=dovecot_server.ca_file, timeout=10.0),
    )  # fmt: skip
    assert sorted(r.error_code or "ok" for r in results) == ["ok", "ok"]
    assert sum(r.totals()["stored"] for r in results) == 2
    with read_session(engine) as session:
        emails = session.scalars(select(Email)).all()
        places = Counter(
            (e, m) for e, m in session.execute(select(Sighting.email_id, Sighting.mailbox_id))
        )
        links = session.execute(select(EmailLead.email_id)).scalars().all()
    assert len(emails) == 2 and sorted(links) == sorted(e.id for e in emails)
    assert places == Counter({(e.id, m): 1 for e in emails for m in ids})
    assert {e.message_id: e.direction for e in emails} == {
        to_both.message_id: "in",
        from_ana.message_id: "out",
    }


# --- UIDVALIDITY ---------------------------------------------------------------------------


def recreate_folder(user, folder, mails) -> None:  # type: ignore[no-untyped-def]
    """Delete and recreate a folder, then append the messages again (new UIDVALIDITY)."""
    with user.connect() as client:
        before = client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder(folder)
        client.create_folder(folder)
        after = client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]
    assert before != after
    append_mails(user, mails)


def uidvalidity_setup(app, engine, box):  # type: ignore[no-untyped-def]
    """A synced extra folder "Clientes" with stored and skipped mail."""
    make_lead(engine, L1, LEAD1)
    with box.user.connect() as client:
        client.create_folder("Clientes")
    set_mailbox(engine, box.id, folders=["INBOX", SENT, "Clientes"])
    mails = [
        simple_mail(box.maker, f"c{i}", sender=LEAD1 if i % 3 else STRANGER,
                    to=box.user.address, folder="Clientes", fate=STORED if i % 3 else "no_lead")
        for i in range(9)
    ]  # fmt: skip
    append_mails(box.user, mails)
    first = sync(app, box.id)
    assert first.totals()["stored"] == 6 and first.totals()["skipped"] == {"no_lead": 3}
    return mails


def test_uidvalidity_reset_duplicates_nothing_and_loses_nothing(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    mails = uidvalidity_setup(app, engine, box)
    with read_session(engine) as session:
        before = set(session.execute(select(Email.message_id, Email.sender)).all())
    extra = simple_mail(box.maker, "after", sender=LEAD1, to=box.user.address,
                        folder="Clientes", fate=STORED)  # fmt: skip
    recreate_folder(box.user, "Clientes", [*reversed(mails), extra])  # new UIDs, new order
    result = sync(app, box.id)
    assert result.error_code is None
    assert result.totals()["stored"] == 1  # only the new message is new
    with read_session(engine) as session:
        cursor = session.scalars(
            select(FolderCursor).where(FolderCursor.folder == "Clientes")
        ).one()
        current = set(session.execute(
            select(Email.message_id, Sighting.uid)
            .join(Sighting, Sighting.email_id == Email.id)
            .where(Sighting.folder == "Clientes", Sighting.uidvalidity == cursor.uidvalidity)
        ).all())  # fmt: skip
        skipped_now = {
            s.uid: s.reason
            for s in session.scalars(select(SkippedMessage).where(
                SkippedMessage.uidvalidity == cursor.uidvalidity))
        }  # fmt: skip
    with read_session(engine) as session:
        after = set(session.execute(select(Email.message_id, Email.sender)).all())
    assert after == before | {(extra.message_id, extra.sender)}
    assert current == {(m.message_id, m.uid) for m in [*mails, extra] if m.fate == STORED}
    assert skipped_now == {m.uid: "no_lead" for m in mails if m.fate != STORED}
    assert cursor.last_uid == max(m.uid for m in [*mails, extra])


def test_uidvalidity_reset_leaves_no_stale_sightings_or_ledger_rows(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """Rows of the dead UIDVALIDITY point at UIDs that now mean other messages (or none)."""
    mails = uidvalidity_setup(app, engine, box)
    recreate_folder(box.user, "Clientes", list(reversed(mails)))
    assert sync(app, box.id).error_code is None
    with read_session(engine) as session:
        cursor = session.scalars(
            select(FolderCursor).where(FolderCursor.folder == "Clientes")
        ).one()
        stale_sightings = session.scalars(
            select(Sighting).where(
                Sighting.folder == "Clientes", Sighting.uidvalidity != cursor.uidvalidity
            )
        ).all()
        stale_skips = session.scalars(select(SkippedMessage).where(
            SkippedMessage.folder == "Clientes",
            SkippedMessage.uidvalidity != cursor.uidvalidity)).all()  # fmt: skip
    assert (len(stale_sightings), len(stale_skips)) == (0, 0)


# --- retroactive linking ---------------------------------------------------------------------


def test_no_lead_mail_is_linked_after_the_lead_is_created(app, engine, box, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    owner = box.user.address
    stranger = simple_mail(
        box.maker, "stranger", sender=f"Estranho <{STRANGER}>", to=owner, fate="no_lead",
        body="Quero comprar.\n",
    )  # fmt: skip
    other = simple_mail(box.maker, "other", sender="outro@desconhecido.test", to=owner, fate="")
    append_mails(box.user, [stranger, other])
    assert sync(app, box.id).totals()["skipped"] == {"no_lead": 2}
    lead_id = add_lead_and_relink(engine, "Estranho", STRANGER.upper())
    with imap_commands(monkeypatch) as log:
        result = sync(app, box.id)
    assert result.totals()["stored"] == 1 and result.totals()["fetched"] == 1
    assert [uids for _f, uids, _i in log.fetched()] == [[stranger.uid], [stranger.uid]]
    with read_session(engine) as session:
        email = session.scalars(select(Email)).one()
        assert (email.message_id, email.direction) == (stranger.message_id, "in")
        assert "Quero comprar." in email.body_text
        assert session.scalars(select(EmailLead.lead_id)).all() == [lead_id]
        addresses = set(session.scalars(select(SkippedAddress.address)))
    assert ledger(engine, box.id) == {("INBOX", other.uid): "no_lead"}
    assert addresses == {"outro@desconhecido.test"}
    again = sync(app, box.id)
    assert again.totals()["fetched"] == 0


def test_automated_mail_is_linked_after_its_sender_becomes_a_lead(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """Automated mail from a known lead is stored (rules); so it must be once the lead exists."""
    news = box.maker.message(
        "news", sender="Fornecedor <news@fornecedor.test>", to=[box.user.address],
        text="Novidades.\n", fate="automated",
        headers={"List-Unsubscribe": "<mailto:sair@fornecedor.test>"},
    )  # fmt: skip
    append_mails(box.user, [news])
    assert sync(app, box.id).totals()["skipped"] == {"automated": 1}
    add_lead_and_relink(engine, "Fornecedor", "news@fornecedor.test")
    later = box.maker.message(
        "news2", sender="news@fornecedor.test", to=[box.user.address], text="Mais.\n",
        fate=STORED, headers={"List-Unsubscribe": "<mailto:sair@fornecedor.test>"},
    )  # fmt: skip
    append_mails(box.user, [later])
    sync(app, box.id)
    with read_session(engine) as session:
        stored = set(session.scalars(select(Email.message_id)))
    assert later.message_id in stored  # the rule: a known lead's newsletter is stored
    assert news.message_id in stored, "the same kind of mail from before the lead stays skipped"


def test_lead_created_by_another_mailbox_mid_batch_still_gets_its_mail_linked(
    app, engine, admin, dovecot_server
) -> None:  # type: ignore[no-untyped-def]
    """Rep B's batch classifies mail from X as "no lead" while rep A's round creates lead X
    (and flags X's ledger rows for relinking) before B's batch commits: B's row must still
    be relinked on B's next round."""
    import threading

    ana, bia = new_user(dovecot_server), new_user(dovecot_server)
    ana_id, bia_id = connect(app, ana), connect(app, bia)
    make_lead(engine, L1, LEAD1)
    prospect = "prospect@novo.test"
    maker = MailMaker(ana.address)
    append_mails(ana, [maker.message("to_x", sender=ana.address, to=[prospect], folder=SENT,
                                     text="Proposta.\n", fate=STORED)])  # fmt: skip
    from_lead = maker.message("lead", sender=LEAD1, to=[bia.address], text="a\n", fate=STORED)
    from_x = maker.message("from_x", sender=prospect, to=[bia.address], text="b\n", fate=STORED)
    append_mails(bia, [from_lead, from_x])
    paused, go_on = threading.Event(), threading.Event()

    def pause_before_commit(step: str) -> None:
        if step == "fetch_bodies":  # after classify, before commit_batch
            paused.set()
            assert go_on.wait(20)

    results = {}
    worker = threading.Thread(
        target=lambda: results.setdefault("bia", sync(app, bia_id, on_step=pause_before_commit))
    )
    worker.start()
    assert paused.wait(20)
    assert sync(app, ana_id).totals()["leads_created"] == 1  # lead X exists now
    go_on.set()
    worker.join(20)
    assert results["bia"].error_code is None
    for _ in range(2):
        sync(app, bia_id)
    with read_session(engine) as session:
        email = session.scalars(select(Email).where(Email.message_id == from_x.message_id)).first()
    assert email is not None, "mail from the new lead stays in the ledger as 'no lead' forever"


# --- company settings change what is stored -----------------------------------------------

P1, P2 = "p1@prospect.test", "p2@prospect.test"


def policy_mails(maker: MailMaker, owner: str) -> list:
    """Mail whose fate depends on the company settings (keys used by POLICY_CASES)."""
    m = maker
    return [
        m.message("lead_in", sender=LEAD1, to=[owner], text="a\n", fate=""),
        m.message("internal_in", sender=COLLEAGUE, to=[owner], text="b\n", fate=""),
        m.message("internal_out", sender=owner, to=[COLLEAGUE], folder=SENT, text="c\n", fate=""),
        m.message("internal_cc_lead", sender=owner, to=[COLLEAGUE], cc=[LEAD1], folder=SENT,
                  text="d\n", fate=""),
        m.message("family_in", sender=FAMILY, to=[owner], text="e\n", fate=""),
        m.message("family_out", sender=owner, to=[FAMILY], folder=SENT, text="f\n", fate=""),
        m.message("family_and_lead", sender=owner, to=[FAMILY, LEAD1], folder=SENT, text="g\n",
                  fate=""),
        m.message("new_in", sender=f"Pessoa Um <{P1}>", to=[owner], text="h\n", fate=""),
        m.message("new_out", sender=owner, to=[f"Pessoa Dois <{P2}>"], folder=SENT, text="i\n",
                  fate=""),
        m.message("noreply_in", sender="no-reply@loja.test", to=[owner], text="j\n", fate=""),
        m.message("news_in", sender="news@loja.test", to=[owner], text="k\n", fate="",
                  headers={"List-Unsubscribe": "<https://loja.test/u>"}),
    ]  # fmt: skip


BASE = {
    "lead_in": (STORED, {LEAD1}),
    "internal_in": ("internal", set()),
    "internal_out": ("internal", set()),
    "internal_cc_lead": (STORED, {LEAD1}),
    "family_in": ("never_log", set()),
    "family_out": ("never_log", set()),
    "family_and_lead": (STORED, {LEAD1}),
    "new_in": ("no_lead", set()),
    "new_out": (STORED, {P2}),
    "noreply_in": ("automated", set()),
    "news_in": ("automated", set()),
}
POLICY_CASES = {
    # settings -> (changes against BASE, leads created: address -> state)
    "default": ({}, {}, {P2: "active"}),
    "internal_off": (
        {"skip_internal": False},
        {"internal_in": ("no_lead", set()), "internal_out": ("no_lead", set())},
        {P2: "active"},
    ),
    "never_log_empty": (
        {"never_log": []},
        {
            "family_in": (STORED, {FAMILY}),
            "family_out": (STORED, {FAMILY}),
            "family_and_lead": (STORED, {LEAD1, FAMILY}),
        },
        {P2: "active", FAMILY: "active"},
    ),  # fmt: skip
    "auto_never": (
        {"auto_create": "never"},
        {"new_out": ("no_lead", set())},
        {},
    ),
    "auto_suggest": (
        {"auto_create": "suggest"},
        {"new_in": (STORED, {P1})},
        {P1: "suggested", P2: "suggested"},
    ),
    "auto_sent": ({"auto_create": "sent"}, {}, {P2: "active"}),
    "auto_all": (
        {"auto_create": "all"},
        {"new_in": (STORED, {P1})},
        {P1: "active", P2: "active"},
    ),
}


def outcome(engine, mailbox_id: int, mails) -> dict:  # type: ignore[no-untyped-def]
    """key -> (stored or skip reason, linked lead addresses)."""
    skips = ledger(engine, mailbox_id)
    got = {}
    with read_session(engine) as session:
        for mail in mails:
            email = email_for(session, mail)
            if email is None:
                got[mail.key] = (skips.get((mail.folder, mail.uid), "LOST"), set())
                continue
            addresses = set(session.scalars(
                select(LeadAddress.address)
                .join(EmailLead, EmailLead.lead_id == LeadAddress.lead_id)
                .where(EmailLead.email_id == email.id)
            ))  # fmt: skip
            got[mail.key] = (STORED, addresses)
    return got


def created_leads(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Leads the sync created: address -> state."""
    with read_session(engine) as session:
        rows = session.execute(
            select(LeadAddress.address, Lead.state).join(Lead).where(Lead.source == "sync")
        )
        return dict(rows.all())


@pytest.mark.parametrize("case", list(POLICY_CASES))
def test_company_settings_change_exactly_what_is_stored(app, engine, box, case) -> None:  # type: ignore[no-untyped-def]
    settings, changes, leads = POLICY_CASES[case]
    set_company(engine, **{"never_log": ["@familia.test"], **settings})
    make_lead(engine, L1, LEAD1)
    mails = policy_mails(box.maker, box.user.address)
    append_mails(box.user, mails)
    result = sync(app, box.id)
    assert result.error_code is None
    expected = {**BASE, **changes}
    assert outcome(engine, box.id, mails) == expected
    assert created_leads(engine) == leads
    assert result.totals()["stored"] == sum(1 for fate, _ in expected.values() if fate == STORED)


def test_internal_switch_is_read_again_every_round(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    set_company(engine, skip_internal=False)
    first = simple_mail(box.maker, "first", sender=COLLEAGUE, to=box.user.address, fate="")
    append_mails(box.user, [first])
    sync(app, box.id)
    set_company(engine, skip_internal=True)
    second = simple_mail(box.maker, "second", sender=COLLEAGUE, to=box.user.address, fate="")
    append_mails(box.user, [second])
    sync(app, box.id)
    set_company(engine, skip_internal=False)
    third = simple_mail(box.maker, "third", sender=COLLEAGUE, to=box.user.address, fate="")
    append_mails(box.user, [third])
    sync(app, box.id)
    assert ledger(engine, box.id) == {
        ("INBOX", first.uid): "no_lead", ("INBOX", second.uid): "internal",
        ("INBOX", third.uid): "no_lead",
    }  # fmt: skip
    assert count_rows(engine, Email) == 0


def test_never_log_entry_added_between_rounds_applies_to_new_mail(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, "Tio", FAMILY)
    before = simple_mail(box.maker, "before", sender=FAMILY, to=box.user.address, fate="")
    append_mails(box.user, [before])
    assert sync(app, box.id).totals()["stored"] == 1
    set_company(engine, never_log=["@familia.test"])
    after = simple_mail(box.maker, "after", sender=FAMILY, to=box.user.address, fate="")
    append_mails(box.user, [after])
    result = sync(app, box.id)
    assert result.totals()["stored"] == 0 and result.totals()["skipped"] == {"never_log": 1}
    assert ledger(engine, box.id) == {("INBOX", after.uid): "never_log"}


def test_a_never_logged_message_leaves_only_its_place_and_day_in_the_log(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    set_company(engine, never_log=["@familia.test"])
    mail = simple_mail(box.maker, "tio", sender=FAMILY, to=box.user.address, fate="never_log")
    append_mails(box.user, [mail])
    sync(app, box.id)
    with read_session(engine) as session:
        row = session.scalars(select(SkippedMessage)).one()
    assert (row.uid, row.reason, row.date is not None) == (mail.uid, "never_log", True)
    assert (row.sender, row.subject, row.message_id, row.addresses) == ("", "", "", [])


# --- errors ----------------------------------------------------------------------------------


def test_wrong_password_marks_the_mailbox_and_others_still_sync(
    app, engine, admin, dovecot_server
) -> None:  # type: ignore[no-untyped-def]
    good, bad = new_user(dovecot_server), new_user(dovecot_server)
    good_id, bad_id = connect(app, good), connect(app, bad)
    make_lead(engine, L1, LEAD1)
    maker = MailMaker(good.address)
    append_mails(good, [simple_mail(maker, "g", sender=LEAD1, to=good.address, fate=STORED)])
    box = app.extensions["leadsync.secrets"]
    set_mailbox(engine, bad_id, secret=box.encrypt("not-the-password"))
    options = RunOptions(ca_file=dovecot_server.ca_file, timeout=10.0)
    results = {r.mailbox_id: r for r in run_round(engine, box, options)}
    assert results[good_id].error_code is None and results[good_id].totals()["stored"] == 1
    assert results[bad_id].error_code == "auth_failed"
    row = mailbox_row(engine, bad_id)
    assert (row.status, row.last_error_code, row.failures) == ("error", "auth_failed", 1)
    assert row.next_sync_at.replace(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC) + dt.timedelta(
        minutes=29
    )
    assert "not-the-password" not in results[bad_id].error
    assert bad_id not in due_mailbox_ids(engine, dt.datetime.now(dt.UTC))
    for attempt in range(len(AUTH_RETRIES)):
        sync(app, bad_id)
        row = mailbox_row(engine, bad_id)
        expected = "needs_reconnect" if attempt == len(AUTH_RETRIES) - 1 else "error"
        assert row.status == expected, attempt
    assert (row.last_error_code, row.next_sync_at) == ("auth_failed", None)
    far_future = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert bad_id not in due_mailbox_ids(engine, far_future)
    assert mailbox_row(engine, good_id).status == "connected"
    with read_session(engine) as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.mailbox_id == bad_id)).all()
    assert [r.error_code for r in runs] == ["auth_failed"] * (len(AUTH_RETRIES) + 1)


def test_transient_errors_back_off_exponentially(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    set_mailbox(engine, box.id, imap_port=free_port())  # nothing listens there
    delays = []
    for _ in range(3):
        started = dt.datetime.now(dt.UTC)
        result = sync(app, box.id)
        assert result.error_code == "connection_refused"
        row = mailbox_row(engine, box.id)
        delays.append(round((row.next_sync_at.replace(tzinfo=dt.UTC) - started).total_seconds()))
    assert (row.status, row.failures, row.last_error_code) == ("error", 3, "connection_refused")
    assert [round(d / 60) for d in delays] == [1, 2, 4]
    assert box.id not in due_mailbox_ids(engine, dt.datetime.now(dt.UTC))
    set_mailbox(engine, box.id, imap_port=box.user.server.port)
    assert sync(app, box.id).error_code is None
    row = mailbox_row(engine, box.id)
    assert (row.status, row.failures, row.next_sync_at) == ("connected", 0, None)


def test_stalled_server_ends_the_round_with_a_timeout(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        set_mailbox(engine, box.id, imap_port=silent.getsockname()[1])
        started = dt.datetime.now(dt.UTC)
        result = sync(app, box.id, timeout=1.0)
    assert result.error_code == "timeout"
    assert (dt.datetime.now(dt.UTC) - started).total_seconds() < 10
    assert mailbox_row(engine, box.id).status == "error"


POISON_DATES = {
    "zone_out_of_range": "Thu, 1 Feb 2024 10:00:00 +9999",
    "day_overflows": "99999999999 Jan 2024 00:00:00 +0000",
}


@pytest.mark.parametrize("kind", list(POISON_DATES))
def test_poison_message_never_stops_the_batch_and_is_not_fetched_again(
    app, engine, box, monkeypatch, kind
) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, L1, LEAD1)
    before = [simple_mail(box.maker, f"b{i}", sender=LEAD1, to=box.user.address, fate=STORED)
              for i in range(3)]  # fmt: skip
    poison = raw_message(
        box.maker, "poison", sender=LEAD1, subject="Veneno", fate="?",
        head=f"From: {LEAD1}\nTo: {box.user.address}\nSubject: Veneno\n"
        f"Date: {POISON_DATES[kind]}\nContent-Type: text/plain; charset=utf-8",
        body=b"corpo\r\n",
    )  # fmt: skip
    after = [simple_mail(box.maker, f"a{i}", sender=LEAD1, to=box.user.address, fate=STORED)
             for i in range(3)]  # fmt: skip
    append_mails(box.user, [*before, poison, *after])
    result = sync(app, box.id)
    assert (result.error_code, result.error) == (None, "")
    with read_session(engine) as session:
        stored = {e.message_id: e for e in session.scalars(select(Email))}
    assert {m.message_id for m in [*before, *after]} <= set(stored)
    skips = ledger(engine, box.id)
    if poison.message_id in stored:
        assert stored[poison.message_id].problems  # stored as well as it could be
        assert skips == {}
    else:
        assert skips == {("INBOX", poison.uid): "parse_error"}
    with imap_commands(monkeypatch) as log:
        again = sync(app, box.id)
    assert again.error_code is None and log.count("fetch") == 0


def test_history_keeps_the_last_fifty_rounds(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    with write_session(engine) as session:
        session.add_all(SyncRun(mailbox_id=box.id, seconds=0.1) for _ in range(HISTORY + 5))
    result = sync(app, box.id)
    with read_session(engine) as session:
        ids = session.scalars(
            select(SyncRun.id).where(SyncRun.mailbox_id == box.id).order_by(SyncRun.id)
        ).all()
        newest = session.get(SyncRun, ids[-1])
    assert len(ids) == HISTORY
    assert ids[0] == 7  # the six oldest were dropped
    assert (newest.error_code, newest.fetched) == (None, result.totals()["fetched"])


# --- the cursor and the import window --------------------------------------------------------


def test_folder_holding_only_old_mail_stays_out_of_the_import(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """Sent holds only mail older than the import window: no round may import it."""
    make_lead(engine, L1, LEAD1)
    old = [box.maker.message(f"old{i}", sender=box.user.address, to=[LEAD1], folder=SENT,
                             text="antiga\n", fate="", days_ago=60) for i in range(2)]  # fmt: skip
    append_mails(box.user, old)
    assert sync(app, box.id).totals()["fetched"] == 0
    second = sync(app, box.id)
    assert second.totals()["fetched"] == 0, "the second round imported mail outside the window"
    assert count_rows(engine, Email) == 0


def test_two_connections_end_in_the_same_state_as_one(
    dovecot_server, migrated_db, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    scenario = realistic_mailbox("rep@acme.test")  # same bytes in both mailboxes
    states = []
    for lanes in (1, 2):
        app = fresh_app(tmp_path / f"lanes{lanes}", migrated_db, dovecot_server.ca_file)
        engine = app.extensions["leadsync.engine"]
        factories.setup_company(engine)
        user = new_user(dovecot_server)
        append_mails(user, scenario.mails)
        mailbox_id = connect(app, user)
        prepare(app, scenario)
        assert sync(app, mailbox_id, connections=lanes).error_code is None
        state = snapshot(engine)
        # Thread keys depend on which folder came first; UIDVALIDITY differs per user.
        state["emails"] = sorted(e[:2] + e[3:] for e in state["emails"])
        state["sightings"] = sorted(x[:3] + x[4:] for x in state["sightings"])
        state["ledger"] = sorted(x[:1] + x[2:] for x in state["ledger"])
        state["cursors"] = sorted((c[0], c[2]) for c in state["cursors"])
        states.append(state)
        engine.dispose()
    assert states[0] == states[1]


def test_rescan_replays_the_window_and_stores_nothing_twice(app, engine, box, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    make_lead(engine, L1, LEAD1)
    mails = [simple_mail(box.maker, f"r{i}", sender=LEAD1 if i % 2 else STRANGER,
                         to=box.user.address, fate="") for i in range(6)]  # fmt: skip
    append_mails(box.user, mails)
    sync(app, box.id)
    before = snapshot(engine)
    set_mailbox(engine, box.id, rescan_since=dt.datetime.now(dt.UTC) - dt.timedelta(days=20))
    with imap_commands(monkeypatch) as log:
        result = sync(app, box.id)
    assert result.error_code is None and result.totals()["stored"] == 0
    replayed = {u for folder, uids, _i in log.fetched() if folder == "INBOX" for u in uids}
    assert replayed == {m.uid for m in mails}
    assert snapshot(engine) == before
    assert mailbox_row(engine, box.id).rescan_since is None


# --- attachments on demand -------------------------------------------------------------------


def test_attachment_is_downloaded_on_demand_and_a_deleted_message_says_so(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    from dashboard.emails.attachments import AttachmentGone, download
    from tests.support.sync import PDF

    make_lead(engine, L1, LEAD1)
    mail = box.maker.message(
        "with_pdf", sender=LEAD1, to=[box.user.address], text="Anexo.\n", fate=STORED,
        attachments=[("proposta.pdf", "application/pdf", PDF),
                     ("nota.txt", "text/plain", "Nota fiscal nº 1\n".encode())],
    )  # fmt: skip
    append_mails(box.user, [mail])
    sync(app, box.id)
    secrets_box, ca_file = app.extensions["leadsync.secrets"], box.user.server.ca_file
    with read_session(engine) as session:
        owner = mailbox_row(engine, box.id).user_id
        files = {a.filename: a for a in session.scalars(select(Attachment))}
        got = {
            name: download(session, a, viewer_id=owner, box=secrets_box, ca_file=ca_file)
            for name, a in files.items()
        }
    assert got["proposta.pdf"] == PDF
    assert got["nota.txt"].replace(b"\r\n", b"\n") == "Nota fiscal nº 1\n".encode()
    assert b"\\Seen" not in server_flags(box.user, "INBOX")[mail.uid]  # still unread
    with box.user.connect() as client:
        client.select_folder("INBOX")
        client.delete_messages([mail.uid])
        client.expunge()
    with read_session(engine) as session, pytest.raises(AttachmentGone):
        download(session, files["proposta.pdf"], viewer_id=owner, box=secrets_box,
                 ca_file=ca_file)  # fmt: skip


def test_too_many_connections_is_transient_and_backs_off(app, engine, admin, make_dovecot) -> None:  # type: ignore[no-untyped-def]
    server = make_dovecot("gmail_pt", max_userip_connections=1)
    user = new_user(server)
    mailbox_id = connect(app, user)
    with user.connect():  # the rep's own mail client holds the only connection allowed
        result = sync(app, mailbox_id, ca_file=server.ca_file)
    assert result.error_code == "too_many_connections", (result.error_code, result.error)
    row = mailbox_row(engine, mailbox_id)
    assert (row.status, row.failures) == ("error", 1)
    assert row.next_sync_at.replace(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC)
    again = sync(app, mailbox_id, ca_file=server.ca_file)
    assert again.error_code is None  # the rep's client went away: syncs again


def test_scheduled_round_syncs_the_due_mailboxes(app, engine, box) -> None:  # type: ignore[no-untyped-def]
    """The scheduler's job body, called directly (the scheduler itself is never started)."""
    from dashboard.sync.scheduler import sync_round

    make_lead(engine, L1, LEAD1)
    append_mails(box.user, [simple_mail(box.maker, "s", sender=LEAD1, to=box.user.address,
                                        fate=STORED)])  # fmt: skip
    sync_round(app)
    assert count_rows(engine, Email) == 1
    assert mailbox_row(engine, box.id).status == "connected"
