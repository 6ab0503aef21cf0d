"""Helpers shared by the tables. Times are stored in UTC; views convert to the viewer's zone.

Primary keys are declared `id: int = Field(default=None, primary_key=True)`: None until the
row is flushed, an int for every row read back. Typing them `int | None` would make every
use of a loaded row's id (most of the code) check for a None that never comes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from dashboard.states import AutoCreate, Role, Visibility

# JSON columns: text on SQLite, jsonb on PostgreSQL (parsed once on write, compact to read).
JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")


def json_list() -> Any:
    """A required JSON list column, empty by default (its own Column each time: a Column
    belongs to one table)."""
    return Field(default_factory=list, sa_column=Column(JSON_DOCUMENT, nullable=False))


ROLES = tuple(Role)
VISIBILITY = tuple(Visibility)
AUTO_CREATE = tuple(AutoCreate)


def utcnow() -> datetime:
    """Return the current time in UTC (aware); every table stores UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """Return a fresh random token; changing it logs out every copy of a user's cookies."""
    return secrets.token_urlsafe(24)
