"""Alembic: a database made at the first revision upgrades to head with its rows intact, and
0007 moves lead addresses to their canonical form without losing a lead or a link."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dashboard import create_app
from dashboard.accounts.security import hash_password
from dashboard.db.engine import make_engine, read_session, write_session
from dashboard.db.migrate import alembic_config, current_revision, upgrade
from dashboard.leads.text import lead_search_text
from dashboard.mail.parse import RawAddress, RawEnvelope, RawFetch, meta_from_fetch
from dashboard.models import (
    Company,
    DismissedAddress,
    Email,
    EmailLead,
    Lead,
    LeadAddress,
    Mailbox,
    NeverLogNote,
    OAuthApp,
    SkippedAddress,
    SkippedMessage,
    SyncRun,
    User,
)
from tests.support import factories
from tests.support.factories import PASSWORD

FIRST = "0001"
CREATED = "2025-03-01 12:00:00.000000"


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A database at the first revision holding a company, an admin and a deactivated rep."""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    path = instance / "leadsync.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, FIRST)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO company (id, name, domains, created_at)"
                " VALUES (1, 'Acme Ltda', '[\"acme.test\", \"acme.com.br\"]', :at)"
            ),
            {"at": CREATED},
        )
        for user_id, email, role, active in (
            (1, "ana@acme.test", "admin", 1),
            (2, "rui@acme.test", "rep", 0),
        ):
            conn.execute(
                text(
                    'INSERT INTO "user" (id, email, name, password_hash, role, active,'
                    " session_token, language, timezone, created_at, last_login_at)"
                    " VALUES (:id, :email, :name, :hash, :role, :active, :token, 'en',"
                    " 'Europe/Lisbon', :at, NULL)"
                ),
                {
                    "id": user_id,
                    "email": email,
                    "name": email.split("@")[0].title(),
                    "hash": hash_password(PASSWORD),
                    "role": role,
                    "active": active,
                    "token": f"token-{user_id}",
                    "at": CREATED,
                },
            )
    yield engine, instance
    engine.dispose()


def head(engine: Engine) -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_first_revision_is_the_base_of_the_history(engine):
    script = ScriptDirectory.from_config(alembic_config(engine))
    assert script.get_base() == FIRST
    assert len(script.get_heads()) == 1  # one line of history, no forgotten merge


def test_database_at_first_revision_upgrades_to_head_with_rows_intact(old_database):
    engine, _ = old_database
    assert current_revision(engine) == FIRST
    upgrade(engine)
    assert current_revision(engine) == head(engine)
    with read_session(engine) as session:
        company = session.exec(select(Company)).one()
        users = list(session.exec(select(User).order_by(User.id)))
    assert (company.id, company.name, company.domains) == (
        1,
        "Acme Ltda",
        ["acme.test", "acme.com.br"],
    )
    assert [(u.id, u.email, u.role, u.active, u.session_token) for u in users] == [
        (1, "ana@acme.test", "admin", True, "token-1"),
        (2, "rui@acme.test", "rep", False, "token-2"),
    ]
    assert [(u.language, u.timezone) for u in users] == [("en", "Europe/Lisbon")] * 2
    assert users[0].created_at.year == 2025


def test_upgrading_twice_changes_nothing(old_database):
    engine, _ = old_database
    upgrade(engine)
    with engine.connect() as conn:
        before = conn.execute(text('SELECT * FROM "user" ORDER BY id')).all()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text('SELECT * FROM "user" ORDER BY id')).all() == before


def test_app_started_on_an_old_database_upgrades_it_and_its_users_log_in(old_database):
    engine, instance = old_database
    engine.dispose()
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    try:
        assert current_revision(app.extensions["leadsync.engine"]) == head(engine)
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        assert client.get("/setup").status_code == 404  # the old users count as set up
        response = client.post("/login", data={"email": "ana@acme.test", "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/settings/users/").status_code == 200
    finally:
        app.extensions["leadsync.engine"].dispose()


# --- 0007: lead addresses in canonical form ---------------------------------------------


class Seeder:
    """Rows written through the models at 0006 (0007 changes no table, only rows)."""

    def __init__(self, session: Session, rep: User) -> None:
        self.session, self.rep = session, rep
        self.day = 0

    def lead(self, name: str, *addresses: str) -> int:
        """A lead with addresses stored exactly as given (as the old form did)."""
        lead = Lead(name=name, search_text=name.lower() + " " + " ".join(addresses))
        self.session.add(lead)
        self.session.flush()
        for address in addresses:
            self.session.add(LeadAddress(lead_id=lead.id, address=address))
            self.session.flush()  # ids in the order given: the oldest row comes first
        return lead.id

    def email(self, sender: str, to: list[str], *leads: int) -> int:
        """A stored email linked to some leads (in SQL: the model has columns added later)."""
        self.day += 1
        email_id = insert_old_email(
            self.session.connection(), f"<m{self.day}@test>", sender, to, self.rep.id,
            datetime(2025, 3, self.day, tzinfo=UTC), "",
        )  # fmt: skip
        self.session.add_all(EmailLead(email_id=email_id, lead_id=lead) for lead in leads)
        return email_id


OLD_EMAIL = text(
    "INSERT INTO email (message_id, sender, synthetic_id, thread_key, subject, date, from_name,"
    ' to_addrs, cc_addrs, bcc_addrs, "references", direction, body_text, body_html, size,'
    " has_attachments, problems, origin, user_id, created_at) VALUES (:mid, :sender, 0, :mid,"
    " :subject, :date, '', :to, '[]', '[]', '[]', 'in', '', '', 0, 0, :problems, 'sync', :user,"
    " :at)"
)


def insert_old_email(
    conn: Connection, message_id: str, sender: str, to: list[str], user_id: int,
    date: datetime | str, subject: str, problems: list[str] | None = None,
) -> int:  # fmt: skip
    """An email row as revisions before 0011 stored it (no fingerprint); its id."""
    stored = date if isinstance(date, str) else date.strftime("%Y-%m-%d %H:%M:%S.%f")
    values = {"mid": message_id, "sender": sender, "subject": subject, "date": stored,
              "to": json.dumps(to), "problems": json.dumps(problems or []), "user": user_id,
              "at": CREATED}  # fmt: skip
    return conn.execute(OLD_EMAIL, values).lastrowid


def addresses_by_lead(engine: Engine) -> dict[int, list[str]]:
    """Every lead's addresses, oldest first."""
    with read_session(engine) as session:
        rows = session.exec(select(LeadAddress).order_by(LeadAddress.id)).all()
    result: dict[int, list[str]] = {}
    for row in rows:
        result.setdefault(row.lead_id, []).append(row.address)
    return result


def all_links(engine: Engine) -> set[tuple[int, int]]:
    """(email id, lead id) of every link."""
    with read_session(engine) as session:
        return {(link.email_id, link.lead_id) for link in session.exec(select(EmailLead))}


def test_0007_rewrites_lead_addresses_to_the_person_without_losing_a_lead_or_a_link(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'leadsync.db'}")
    upgrade(engine, "0006")
    with engine.begin() as conn:  # plain SQL: the Company model has columns 0006 lacks
        conn.execute(
            text(
                "INSERT INTO company (name, domains, created_at, skip_internal, visibility,"
                " never_log, auto_create, import_days, interval_minutes, stale_days, tracking)"
                " VALUES ('Acme', '[\"acme.test\"]', :at, 1, 'all', '[]', 'sent', 30, 5, 3, 1)"
            ),
            {"at": CREATED},
        )
    admin = factories.make_user(engine, role="admin")
    rep = factories.make_user(engine)
    with write_session(engine) as session:
        seed = Seeder(session, rep)
        joao = seed.lead("João", "Joao+CRM@x.test")  # typed with a tag, no one else
        maria = seed.lead("Maria", "maria@y.test")
        maria_b = seed.lead("Maria B", "maria+b@y.test", "mb@z.test")  # keeps mb@z.test
        rui = seed.lead("Rui", "rui@w.test")
        rui_s = seed.lead("Rui S", "rui+s@w.test")  # its only address: kept as it was
        ana = seed.lead("Ana", "ana+a@v.test", "ana+b@v.test")  # the same lead twice
        bia = seed.lead("Bia", "bia+1@u.test")  # the oldest of two tagged rows
        bia_2 = seed.lead("Bia 2", "bia+2@u.test")
        cid = seed.lead("Cid", "c+x@t.test", "d+x@t.test")  # both collide: keeps one
        c = seed.lead("C", "c@t.test")
        d = seed.lead("D", "d@t.test")
        colleague = seed.lead("Colleague", f"{admin.email.split('@')[0]}+crm@acme.test")
        unlinked = seed.email("joao@x.test", [rep.email])  # the sync found no lead for it
        tagged = seed.email(rep.email, ["joao+news@x.test", "maria@y.test"], maria)
        other = seed.email("someone@x.test", [rep.email], rui_s)
        internal = seed.email(rep.email, [admin.email])  # names a company address
        box_id = session.execute(  # the columns of 0006: the model has grown since
            insert(Mailbox).values(
                user_id=rep.id, provider="other", address=rep.email, username=rep.email,
                imap_host="127.0.0.1", imap_port=993, imap_security="tls", folders=[],
                available_folders=[], capabilities=[], status="connected", failures=0,
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
            ).returning(Mailbox.id)
        ).scalar_one()  # fmt: skip
        skipped = SkippedMessage(
            mailbox_id=box_id, folder="INBOX", uidvalidity=1, uid=7, reason="no_lead",
            addresses=["joao@x.test"],
        )  # fmt: skip
        session.add(skipped)
        session.flush()
        session.add(SkippedAddress(skipped_id=skipped.id, address="joao@x.test"))
        for n, address in enumerate(["p@s.test", "p+r@s.test", "q+1@s.test"]):
            session.add(
                DismissedAddress(address=address, created_at=datetime(2025, 1, n + 1, tzinfo=UTC))
            )
    links_before = all_links(engine)

    upgrade(engine, "0007")

    assert current_revision(engine) == "0007"
    assert addresses_by_lead(engine) == {
        joao: ["joao@x.test"],
        maria: ["maria@y.test"],
        maria_b: ["mb@z.test"],
        rui: ["rui@w.test"],
        rui_s: ["rui+s@w.test"],
        ana: ["ana@v.test"],
        bia: ["bia@u.test"],
        bia_2: ["bia+2@u.test"],
        cid: ["d+x@t.test"],
        c: ["c@t.test"],
        d: ["d@t.test"],
        colleague: [admin.email],
    }
    links = all_links(engine)
    assert links_before <= links  # no link lost
    assert links - links_before == {(unlinked, joao), (tagged, joao)}
    assert (internal, colleague) not in links  # the sync never links company addresses
    assert (other, rui_s) in links
    with read_session(engine) as session:
        lead = session.get(Lead, joao)
        assert lead.email_count == 2
        assert lead.search_text == lead_search_text("João", "", ["joao@x.test"])  # the app's
        assert session.get(SkippedMessage, skipped.id).relink is True
        dismissed = session.exec(select(DismissedAddress.address)).all()
    assert sorted(dismissed) == ["p@s.test", "q@s.test"]


def test_templates_from_before_own_templates_stay_the_companys(old_database):
    engine, _ = old_database
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO emailtemplate (id, name, subject, body, updated_at)"
                " VALUES (7, 'Follow-up', 'Olá', 'Oi {{ first_name }}', :at)"
            ),
            {"at": CREATED},
        )
    upgrade(engine)
    add = text(
        "INSERT INTO emailtemplate (name, subject, body, updated_at, user_id)"
        " VALUES ('Follow-up', '', '', :at, :user)"
    )
    with engine.begin() as conn:
        kept = conn.execute(text("SELECT id, user_id, body FROM emailtemplate")).all()
        conn.execute(add, {"at": CREATED, "user": 2})  # a rep's own may share the name
    assert kept == [(7, None, "Oi {{ first_name }}")]
    for owner in (None, 2):  # but not twice among the company's, nor twice among the rep's
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(add, {"at": CREATED, "user": owner})


# --- 0009: every lead's search text, and the word-prefix index ----------------------------


def test_0009_makes_leads_without_search_text_findable(old_database):
    """Before 0009 the sync created leads with no search text (found only by email words)."""
    engine, instance = old_database
    upgrade(engine, "0008")
    add_lead = text(
        "INSERT INTO lead (id, name, company_name, phone, source, state, created_at,"
        " email_count, search_text) VALUES (:id, :name, :company, '', 'sync', 'active', :at,"
        " 0, :search)"
    )
    add_address = text(
        "INSERT INTO leadaddress (lead_id, address, created_at) VALUES (:id, :address, :at)"
    )
    with engine.begin() as conn:
        for lead_id, name, company, search, addresses in (
            (1, "Paulo Mendes", "", "", ["paulo.mendes@construtoraalfa.com.br"]),
            (2, "João Brandão", "Açaí Ltda", "", ["jb@acai.test"]),
            (3, "Rita", "", "rita", ["rita@antes.test", "rita@depois.test"]),  # one added later
        ):
            conn.execute(add_lead, {"id": lead_id, "name": name, "company": company,
                                    "search": search, "at": CREATED})  # fmt: skip
            for address in addresses:
                conn.execute(add_address, {"id": lead_id, "address": address, "at": CREATED})
    engine.dispose()

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})  # upgrades to head
    try:
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        response = client.post("/login", data={"email": "ana@acme.test", "password": PASSWORD})
        assert response.status_code == 302

        def found(q: str) -> set[int]:
            html = client.get("/leads/", query_string={"q": q}).get_data(as_text=True)
            return {int(i) for i in re.findall(r'href="/leads/(\d+)"', html)}

        expected = {
            "paulo": {1}, "p": {1}, "pa": {1}, "me": {1}, "paulo.mendes": {1},
            "construtoraalfa": {1}, "construtoraalfa.com.br": {1}, "joao": {2}, "JOÃO": {2},
            "j": {2}, "acai": {2}, "a": {2, 3}, "depois": {3}, "d": {3}, "rita@antes": {3},
        }  # fmt: skip
        assert {q: found(q) for q in expected} == expected
        with read_session(app.extensions["leadsync.engine"]) as session:
            paulo = session.get(Lead, 1)
            assert paulo is not None
            assert paulo.search_text == lead_search_text(
                "Paulo Mendes", "", ["paulo.mendes@construtoraalfa.com.br"]
            )  # the app's rule
    finally:
        app.extensions["leadsync.engine"].dispose()


# --- 0011: the content fingerprint in the email identity, seen-again counts ---------------


def envelope_fetch(uid: int, message_id: str, sender: str, date: bytes | None, subject: bytes):  # type: ignore[no-untyped-def]
    """A lean FETCH of a message, as the sync would read the stored row's message again."""
    local, _, host = sender.partition("@")
    envelope = RawEnvelope(
        date=date, subject=subject, from_=(RawAddress(None, local.encode(), host.encode()),),
        sender=(), reply_to=(), to=(), cc=(), bcc=(), in_reply_to=None,
        message_id=message_id.encode(),
    )  # fmt: skip
    internal = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)  # the copy's own arrival, never used
    return RawFetch(uid, envelope, (b"text", b"plain", None, None, None, b"7bit", 10), b"", 10,
                    internal)  # fmt: skip


def test_0011_backfills_the_identity_the_sync_computes_and_keeps_every_email(
    old_database,
) -> None:  # type: ignore[no-untyped-def]
    """Each stored email gets the fingerprint the sync computes when it reads that message
    again (so a copy seen after the upgrade is "seen again", not a second email)."""
    engine, _ = old_database
    upgrade(engine, "0009")
    cases = [  # (Message-ID, Date header as sent, stored date, subject, problems)
        ("<a@x.test>", b"Mon, 2 Mar 2026 10:00:00 -0300", "2026-03-02 13:00:00.000000",
         "Proposta  comercial", []),
        ("<b@x.test>", None, "2025-06-01 09:30:00.000000", "Sem data", ["no Date"]),
        ("<c@x.test>", b"Sat, 1 Jan 2050 00:00:00 +0000", "2025-06-01 09:30:00.000000",
         "Do futuro",
         ["bad or missing Date b'Sat, 1 Jan 2050 00:00:00 +0000'; using INTERNALDATE"]),
        ("<d@x.test>", b"quando der", "2025-06-01 09:30:00.000000", "Data torta",
         ["bad or missing Date b'quando der'; using INTERNALDATE"]),
    ]  # fmt: skip
    with engine.begin() as conn:
        for message_id, _raw, stored, subject, problems in cases:
            insert_old_email(
                conn, message_id, "cliente@x.test", ["ana@acme.test"], 1, stored, subject,
                problems,
            )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host,"
                " imap_port, imap_security, folders, available_folders, capabilities, status,"
                " failures, created_at) VALUES (1, 1, 'other', 'ana@acme.test', 'ana@acme.test',"
                " 'mail.acme.test', 993, 'tls', '[]', '[]', '[]', 'connected', 0, :at)"
            ),
            {"at": CREATED},
        )
        conn.execute(
            text(
                "INSERT INTO syncrun (mailbox_id, started_at, seconds, fetched, stored, skipped,"
                " leads_created, error_detail) VALUES (1, :at, 1.0, 5, 4, '{\"no_lead\": 1}', 0,"
                " '')"
            ),
            {"at": CREATED},
        )

    upgrade(engine)

    with read_session(engine) as session:
        emails = {e.message_id: e for e in session.exec(select(Email))}
        run = session.exec(select(SyncRun)).one()
    assert len(emails) == len(cases)
    for uid, (message_id, raw_date, _stored, subject, _problems) in enumerate(cases, 1):
        meta = meta_from_fetch(envelope_fetch(uid, message_id, "cliente@x.test", raw_date,
                                              subject.encode()))  # fmt: skip
        assert emails[message_id].fingerprint == meta.fingerprint, message_id
    assert len({e.fingerprint for e in emails.values()}) == len(cases)
    assert (run.fetched, run.stored, run.seen_again, run.skipped) == (5, 4, 0, {"no_lead": 1})
    with engine.begin() as conn:  # a different message under the same Message-ID and sender
        insert_old_email(conn, "<a@x.test>", "cliente@x.test", [], 1, CREATED, "Outra coisa")
        with pytest.raises(IntegrityError):  # the same identity twice (fingerprint "") is not
            insert_old_email(conn, "<a@x.test>", "cliente@x.test", [], 1, CREATED, "De novo")


# --- 0012: servers on the local network, off until an admin allows them -------------------


@pytest.mark.parametrize(
    ("imap_host", "smtp_host", "secret", "allowed"),
    [
        ("imap.gmail.com", "smtp.gmail.com", b"token", 0),
        ("127.0.0.1", None, b"token", 1),  # a self-hosted Dovecot on the same machine
        ("imap.gmail.com", "192.168.0.10", b"token", 1),  # a LAN relay for sending
        ("mailserver", None, b"token", 1),  # a dot-less LAN name
        ("localhost", None, None, 0),  # disconnected: nothing to keep working
    ],
)
def test_0012_keeps_local_servers_that_already_sync_allowed(
    old_database, imap_host, smtp_host, secret, allowed
):  # type: ignore[no-untyped-def]
    """An upgrade never stops a mailbox that synced from a local server the day before."""
    engine, _ = old_database
    upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host,"
                " imap_port, imap_security, smtp_host, secret, folders, available_folders,"
                " capabilities, status, failures, created_at) VALUES (1, 1, 'other',"
                " 'ana@acme.test', 'ana@acme.test', :imap, 993, 'tls', :smtp, :secret, '[]',"
                " '[]', '[]', 'connected', 0, :at)"
            ),
            {"imap": imap_host, "smtp": smtp_host, "secret": secret, "at": CREATED},
        )
    upgrade(engine, "0012")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT allow_local_servers FROM company")).scalar() == allowed


def test_0012_leaves_existing_companies_refusing_local_servers(old_database):
    engine, _ = old_database
    upgrade(engine, "0009")
    upgrade(engine, "0012")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, name, allow_local_servers FROM company")).all()
    assert rows == [(1, "Acme Ltda", 0)]


# --- 0010: who connected a mailbox, and when -----------------------------------------------


def test_0010_remembers_who_connected_each_mailbox_from_the_audit_log(old_database):
    """Rui's mailbox was connected by Ana (the audit log says so), Ana's own from the command
    line; a disconnected one was connected by nobody now."""
    engine, _ = old_database
    upgrade(engine, "0009")
    add_box = text(
        "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host, imap_port,"
        " imap_security, secret, folders, available_folders, capabilities, status, failures,"
        " created_at, verified_at) VALUES (:id, :user, 'other', :address, :address,"
        " '127.0.0.1', 993, 'tls', :secret, '[]', '[]', '[]', 'connected', 0, :at, :verified)"
    )
    add_event = text(
        "INSERT INTO auditevent (at, actor_id, actor, action, changes)"
        " VALUES (:at, :actor_id, :actor, 'mailbox.connect', :changes)"
    )
    verified = "2025-06-01 09:30:00.000000"
    with engine.begin() as conn:
        for box_id, user_id, address, secret, when in (
            (1, 1, "ana@acme.test", b"token", None),
            (2, 2, "Rui@acme.test", b"token", verified),
        ):
            conn.execute(add_box, {"id": box_id, "user": user_id, "address": address,
                                   "secret": secret, "at": CREATED, "verified": when})  # fmt: skip
        for actor_id, actor, owner, address in (
            (None, "cli", "ana@acme.test", "ana@acme.test"),
            (2, "Rui <rui@acme.test>", "rui@acme.test", "old@acme.test"),  # another address
            (1, "Ana <ana@acme.test>", "RUI@acme.test", "rui@acme.test"),
        ):
            changes = f'{{"user": "{owner}", "address": "{address}", "provider": "other"}}'
            conn.execute(add_event, {"at": CREATED, "actor_id": actor_id, "actor": actor,
                                     "changes": changes})  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, connected_by_user_id, connected_at FROM mailbox ORDER BY id")
        ).all()
    assert [(row[0], row[1]) for row in rows] == [(1, None), (2, 1)]
    assert [str(row[2]) for row in rows] == [CREATED, verified]


# --- 0013: notes on the never-log list ------------------------------------------------------


def test_0013_keeps_the_never_log_list_and_starts_with_no_notes(old_database):
    engine, _ = old_database
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(text('UPDATE company SET never_log = \'["@gmail.com", "tio@x.test"]\''))
    upgrade(engine)
    with write_session(engine) as session:
        company = session.exec(select(Company)).one()
        assert company.never_log == ["@gmail.com", "tio@x.test"]
        assert session.exec(select(NeverLogNote)).all() == []
        session.add(NeverLogNote(entry="@gmail.com", reason="erasure", lead_id=7))
    with read_session(engine) as session:
        assert session.get(NeverLogNote, "@gmail.com").lead_id == 7


def test_0014_keeps_every_email_of_an_existing_company_and_indexes_what_a_purge_deletes_by(
    old_database,
):
    """Before 0014 nothing was ever purged: an upgraded company keeps its emails forever."""
    engine, _instance = old_database
    upgrade(engine, "0009")
    upgrade(engine)
    with read_session(engine) as session:
        company = session.exec(select(Company)).one()
        assert (company.name, company.retention_months) == ("Acme Ltda", None)
    with engine.connect() as conn:
        indexes = {
            (table, name)
            for table in ("notification", "outgoingemail")
            for name in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            ).scalars()
        }
    assert {
        ("notification", "ix_notification_email_id"),
        ("notification", "ix_notification_outgoing_id"),
        ("outgoingemail", "ix_outgoingemail_email_id"),
    } <= indexes


def test_0015_keeps_every_mailbox_on_interval_polling_and_allows_50_idle_connections(
    old_database,
):
    """Before 0015 nothing idled: an upgraded mailbox starts on the interval, untouched."""
    engine, _ = old_database
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host,"
                " imap_port, imap_security, secret, folders, available_folders,"
                " capabilities, status, failures, created_at) VALUES (1, 1, 'other',"
                " 'ana@acme.test', 'ana@acme.test', 'imap.acme.test', 993, 'tls', x'01',"
                " '[\"INBOX\"]', '[]', '[\"IDLE\"]', 'connected', 0, :at)"
            ),
            {"at": CREATED},
        )
    upgrade(engine)
    with read_session(engine) as session:
        company = session.exec(select(Company)).one()
        mailbox = session.exec(select(Mailbox)).one()
    assert (company.name, company.idle_connections) == ("Acme Ltda", 50)
    assert (mailbox.address, mailbox.folders, mailbox.idle_since) == (
        "ana@acme.test",
        ["INBOX"],
        None,
    )


# --- 0017: the skips a new lead claims, found by index --------------------------------------

RELINK_QUERY = (
    "SELECT uid FROM skippedmessage WHERE relink = 1 AND mailbox_id = 1 AND folder = 'INBOX'"
    " AND uidvalidity = 7"
)


def test_0017_keeps_the_ledger_and_finds_relink_flags_without_walking_it(old_database):
    """Before 0017 SQLite answered the relink question through ix_skipped_place, reading every
    skip of the folder; after it, through ix_skipped_relink, and every row is still there."""
    engine, _ = old_database
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host,"
                " imap_port, imap_security, folders, available_folders, capabilities, status,"
                " failures, created_at) VALUES (1, 1, 'other', 'ana@acme.test', 'ana@acme.test',"
                " 'mail.acme.test', 993, 'tls', '[]', '[]', '[]', 'connected', 0, :at)"
            ),
            {"at": CREATED},
        )
        for uid in range(1, 41):
            conn.execute(
                text(
                    "INSERT INTO skippedmessage (mailbox_id, folder, uidvalidity, uid, reason,"
                    " detail, addresses, message_id, subject, sender, relink, created_at)"
                    " VALUES (1, 'INBOX', 7, :uid, 'no_lead', '', '[]', '', '', '', :relink, :at)"
                ),
                {"uid": uid, "relink": uid % 10 == 0, "at": CREATED},
            )
        before = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + RELINK_QUERY).all()
    upgrade(engine)
    with engine.connect() as conn:
        after = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + RELINK_QUERY).all()
        flagged = conn.exec_driver_sql(RELINK_QUERY).scalars().all()
        rows = conn.exec_driver_sql("SELECT count(*) FROM skippedmessage").scalar()
    assert "ix_skipped_place" in str(before)
    assert "ix_skipped_relink" in str(after)
    assert (sorted(flagged), rows) == ([10, 20, 30, 40], 40)


# --- 0016: OAuth mailboxes ------------------------------------------------------------------


def test_0016_keeps_every_mailbox_on_its_app_password_and_starts_with_no_oauth_app(old_database):
    """Before 0016 every mailbox logged in with its app password: it still does, unchanged."""
    engine, _ = old_database
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mailbox (id, user_id, provider, address, username, imap_host,"
                " imap_port, imap_security, secret, folders, available_folders, capabilities,"
                " status, failures, created_at) VALUES (1, 1, 'gmail', 'ana@acme.test',"
                " 'ana@acme.test', 'imap.gmail.com', 993, 'tls', :secret, '[\"INBOX\"]', '[]',"
                " '[]', 'connected', 0, :at)"
            ),
            {"secret": b"fernet-token", "at": CREATED},
        )
    upgrade(engine)
    with read_session(engine) as session:
        mailbox = session.get(Mailbox, 1)
        assert (mailbox.auth, mailbox.secret, mailbox.folders) == (
            "password",
            b"fernet-token",
            ["INBOX"],
        )
        assert (mailbox.access_token, mailbox.access_expires_at) == (None, None)
        assert session.exec(select(OAuthApp)).all() == []
