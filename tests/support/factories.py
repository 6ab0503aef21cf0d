"""Test data factories with sequences (no fixtures full of literals)."""

from __future__ import annotations

import itertools

from sqlalchemy import Engine

from dashboard.accounts import service as accounts
from dashboard.db.engine import write_session
from dashboard.models import User

PASSWORD = "correct-horse-42"
_sequence = itertools.count(1)


def next_number() -> int:
    """A number unique within the test run."""
    return next(_sequence)


def setup_company(
    engine: Engine,
    *,
    domains: tuple[str, ...] = ("acme.test",),
    admin_email: str | None = None,
    allow_local_servers: bool = True,
) -> User:
    """Run first-run setup and return the administrator.

    The company allows mail servers on the local network unless told otherwise: every test
    server (Dovecot, SMTP) listens on 127.0.0.1. A fresh install refuses them.
    """
    n = next_number()
    with write_session(engine) as session:
        admin = accounts.run_setup(
            session,
            company=f"Acme {n}",
            domains=list(domains),
            admin_email=admin_email or f"admin{n}@acme.test",
            admin_name=f"Admin {n}",
            password=PASSWORD,
        )
        company = accounts.get_company(session)
        assert company is not None
        company.allow_local_servers = allow_local_servers
        return admin


def make_user(
    engine: Engine,
    *,
    role: str = "rep",
    email: str | None = None,
    name: str | None = None,
    password: str = PASSWORD,
) -> User:
    """Add a user (setup must have run)."""
    n = next_number()
    with write_session(engine) as session:
        return accounts.create_user(
            session,
            email=email or f"rep{n}@acme.test",
            name=name or f"Rep {n}",
            password=password,
            role=role,
        )
