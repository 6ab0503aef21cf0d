"""Which database the suite runs on: SQLite files (default) or a real PostgreSQL server
(LEADSYNC_TEST_DATABASE=postgres, `make test-postgres`)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Connection, text
from sqlmodel import Session

from dashboard.db import text_search
from dashboard.db.dialect import on_postgres
from dashboard.leads.text import query_words

ON_POSTGRES = os.environ.get("LEADSYNC_TEST_DATABASE", "sqlite") == "postgres"


def email_text_ids(bind: Session | Connection, words: str) -> list[int]:
    """The ids of the emails the full-text index finds for some words (an FTS5 query on
    SQLite; the same words, as prefixes, in the GIN-indexed tsvector on PostgreSQL)."""
    if on_postgres(bind):
        statement = text_search.email_ids(query_words(words), ("subject", "body_text"))
        return sorted(bind.execute(statement).scalars())
    statement = text("SELECT rowid FROM email_fts WHERE email_fts MATCH :m ORDER BY rowid")
    return list(bind.execute(statement, {"m": words}).scalars())


def dangling_foreign_keys(bind: Session | Connection) -> list:
    """Rows whose foreign key points nowhere: SQLite's foreign_key_check. PostgreSQL
    enforces every foreign key at each statement, so it has none to report."""
    if on_postgres(bind):
        return []
    return list(bind.execute(text("PRAGMA foreign_key_check")).all())


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test of something only SQLite has (a pragma, the database file) on PostgreSQL."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")
