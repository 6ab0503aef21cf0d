"""Alembic: a database made at the first revision upgrades to head with its rows intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from dashboard import create_app
from dashboard.accounts.security import hash_password
from dashboard.db.engine import make_engine, read_session
from dashboard.db.migrate import alembic_config, current_revision, upgrade
from dashboard.models import Company, User
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
