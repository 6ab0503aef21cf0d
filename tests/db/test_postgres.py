"""LeadSync on PostgreSQL: the test server, the schema the migrations make there, the search
indexes, the sync lease under contention. Part of `make test-postgres` only: `make test`
stays on SQLite and starts no PostgreSQL."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from dashboard.db import text_search
from dashboard.db.engine import make_engine, write_session
from dashboard.db.migrate import head_revision
from dashboard.models import Mailbox
from dashboard.sync.store.lease import take_lease
from tests.support import factories
from tests.support.database import ON_POSTGRES
from tests.support.servers.postgres import PostgresServer

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL suite (make test-postgres)")


@pytest.fixture
def pg(postgres_database: Callable[[], str]) -> Iterator[Engine]:
    """An engine on a fresh migrated PostgreSQL database."""
    engine = make_engine(postgres_database())
    yield engine
    engine.dispose()


def test_the_server_runs_as_an_unprivileged_user(postgres_server: PostgresServer) -> None:
    pid = postgres_server.server_pid()
    assert pid is not None
    owner = subprocess.run(
        ["ps", "-o", "user=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert owner and owner != "root"


def test_each_database_starts_migrated_and_empty(pg: Engine) -> None:
    with pg.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()
        assert connection.scalar(text('SELECT count(*) FROM "user"')) == 0


def test_a_test_database_keeps_no_rows_of_another(postgres_database) -> None:  # type: ignore[no-untyped-def]
    first, second = make_engine(postgres_database()), make_engine(postgres_database())
    try:
        factories.setup_company(first)
        with second.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM company")) == 0
    finally:
        first.dispose()
        second.dispose()


def test_json_columns_are_jsonb(pg: Engine) -> None:
    with pg.connect() as connection:
        types = dict(
            connection.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM "
                    "information_schema.columns WHERE column_name IN "
                    "('to_addrs', 'domains', 'skipped', 'problems')"
                )
            ).all()
        )
    assert types and set(types.values()) == {"jsonb"}, types


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("A sincronização da proposta falhou", "sincronizacao"),  # accents folded
        ("Problema de sincronizacao", "sincronização"),  # both ways
        ("Enviamos as propostas ontem", "proposta"),  # Portuguese stemming
        ("Orçamento revisado", "orcam"),  # a prefix of a word
    ],
)
def test_the_portuguese_configuration_finds_words_as_typed(
    pg: Engine, stored: str, typed: str
) -> None:
    query = text_search.ts_prefix_query([typed])
    with pg.connect() as connection:
        found = connection.scalar(
            text("SELECT to_tsvector('leadsync_pt', :doc) @@ to_tsquery('leadsync_pt', :q)"),
            {"doc": stored, "q": query},
        )
    assert found is True


def test_tsquery_syntax_typed_by_a_user_is_only_text(pg: Engine) -> None:
    with pg.connect() as connection:
        for typed in ("a & b", "x:* | !y", "o'brien", "back\\slash"):
            connection.execute(
                text("SELECT to_tsquery('leadsync_pt', :q)"),
                {"q": text_search.ts_prefix_query([typed])},
            )  # no syntax error


@pytest.mark.parametrize(
    ("ids", "index"),
    [
        (text_search.lead_substring_ids(["acme"]), "ix_lead_search_trgm"),
        (text_search.lead_prefix_ids(["ac"]), "ix_lead_search_words"),
        (text_search.email_ids(["proposta"], ("subject",)), "ix_email_fts_subject"),
        (text_search.email_ids(["proposta"], ("subject", "body_text")), "ix_email_fts_text"),
    ],
)
def test_each_search_statement_can_use_its_gin_index(pg: Engine, ids, index: str) -> None:  # type: ignore[no-untyped-def]
    with pg.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")  # an empty table: force the index
        compiled = ids.compile(pg, compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}").all())
    assert index in plan, plan


def test_only_one_of_many_concurrent_takers_gets_a_mailbox_lease(pg: Engine) -> None:
    admin = factories.setup_company(pg)
    with write_session(pg) as session:
        mailbox = Mailbox(
            user_id=admin.id,
            provider="other",
            address=admin.email,
            username=admin.email,
            imap_host="imap.acme.test",
            imap_port=993,
            imap_security="ssl",
        )
        session.add(mailbox)
        session.flush()
        mailbox_id = mailbox.id
    start = threading.Barrier(8)
    winners: list[str] = []

    def claim(holder: str) -> None:
        start.wait()
        with write_session(pg) as session:
            if take_lease(session, mailbox_id, holder, 600):
                winners.append(holder)

    threads = [threading.Thread(target=claim, args=(f"worker-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(winners) == 1
    with pg.connect() as connection:
        assert connection.scalar(text("SELECT holder FROM synclease")) == winners[0]
