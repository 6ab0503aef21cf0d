"""Which database the suite runs on: SQLite files (default) or a real PostgreSQL server
(LEADSYNC_TEST_DATABASE=postgres, `make test-postgres`)."""

from __future__ import annotations

import os

import pytest

ON_POSTGRES = os.environ.get("LEADSYNC_TEST_DATABASE", "sqlite") == "postgres"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test of something only SQLite has (a pragma, the database file) on PostgreSQL."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")
