"""Operator commands: scripted setup, users add/list, db current/upgrade."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlmodel import select

from dashboard.db.engine import read_session
from dashboard.db.migrate import alembic_config
from dashboard.models import Company, User
from tests.support.factories import PASSWORD

SETUP_ARGS = [
    "setup",
    "--company",
    "Acme Ltda",
    "--domain",
    "a.test",
    "--domain",
    "B.TEST",
    "--admin-email",
    "boss@a.test",
    "--admin-name",
    "Boss",
    "--password-stdin",
]


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    """A CLI runner on the test's app (no setup done yet)."""
    return app.test_cli_runner()


@pytest.fixture
def set_up(runner):  # type: ignore[no-untyped-def]
    """Run the scripted setup once."""
    result = runner.invoke(args=SETUP_ARGS, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return result


def add_user(runner, email: str, role: str = "rep", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Invoke `users add` with the password on stdin."""
    args = ["users", "add", "--email", email, "--name", f"Name of {email}", "--role", role]
    return runner.invoke(args=[*args, "--password-stdin"], input=f"{password}\n")


def assert_one_line_error(result) -> None:  # type: ignore[no-untyped-def]
    """A refusal: non-zero exit, one line on stderr, no traceback."""
    assert result.exit_code != 0
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output


def head_revision(engine) -> str:  # type: ignore[no-untyped-def]
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_setup_command_creates_company_and_admin(set_up, engine, client):
    assert "boss@a.test" in set_up.output
    with read_session(engine) as session:
        company = session.exec(select(Company)).one()
        admin = session.exec(select(User)).one()
    assert (company.name, company.domains) == ("Acme Ltda", ["a.test", "b.test"])
    assert (admin.email, admin.name, admin.role, admin.active) == (
        "boss@a.test",
        "Boss",
        "admin",
        True,
    )
    assert admin.password_hash.startswith("scrypt:")
    assert client.get("/setup").status_code == 404
    response = client.post("/login", data={"email": "boss@a.test", "password": PASSWORD})
    assert response.status_code == 302


def test_setup_command_twice_fails_with_one_line(set_up, runner, engine):
    result = runner.invoke(
        args=[*SETUP_ARGS[:-5], "--admin-email", "other@a.test", *SETUP_ARGS[-3:]],
        input=f"{PASSWORD}\n",
    )
    assert_one_line_error(result)
    with read_session(engine) as session:
        assert len(session.exec(select(Company)).all()) == 1
        assert [u.email for u in session.exec(select(User))] == ["boss@a.test"]


def test_setup_command_refuses_a_weak_password(runner, engine):
    result = runner.invoke(args=SETUP_ARGS, input="weak\n")
    assert_one_line_error(result)
    with read_session(engine) as session:
        assert session.exec(select(Company)).all() == []
        assert session.exec(select(User)).all() == []


def test_setup_command_refuses_an_invalid_domain(runner, engine):
    args = [a if a != "a.test" else "-bad-.com" for a in SETUP_ARGS]
    assert_one_line_error(runner.invoke(args=args, input=f"{PASSWORD}\n"))
    with read_session(engine) as session:
        assert session.exec(select(Company)).all() == []


def test_users_add_creates_a_user(set_up, runner, engine):
    result = add_user(runner, "Rep@A.test")
    assert result.exit_code == 0, result.output
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.email == "rep@a.test")).one()
    assert (user.role, user.active) == ("rep", True)


def test_users_add_refuses_a_duplicate_email(set_up, runner, engine):
    assert_one_line_error(add_user(runner, "boss@a.test"))
    with read_session(engine) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_users_add_refuses_a_weak_password(set_up, runner, engine):
    assert_one_line_error(add_user(runner, "rep@a.test", password="weak"))
    with read_session(engine) as session:
        assert session.exec(select(User).where(User.email == "rep@a.test")).first() is None


def test_users_add_before_setup_fails_with_one_line(runner, engine):
    assert_one_line_error(add_user(runner, "rep@a.test"))
    with read_session(engine) as session:
        assert session.exec(select(User)).all() == []


def test_users_add_refuses_an_unknown_role(set_up, runner):
    result = add_user(runner, "rep@a.test", role="owner")
    assert result.exit_code != 0


def test_users_list_shows_every_user(set_up, runner):
    assert add_user(runner, "rep@a.test").exit_code == 0
    assert add_user(runner, "second@a.test", role="admin").exit_code == 0
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.output.strip().splitlines()]
    assert [row[:3] for row in rows] == [
        ["boss@a.test", "admin", "active"],
        ["rep@a.test", "rep", "active"],
        ["second@a.test", "admin", "active"],
    ]
    assert rows[0][3] == "Boss"


def test_db_current_prints_the_head_revision(runner, engine):
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0
    assert result.output.strip() == head_revision(engine)


def test_db_upgrade_is_idempotent(set_up, runner, engine):
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert head_revision(engine) in result.output
    assert runner.invoke(args=["db", "current"]).output.strip() == head_revision(engine)
    with read_session(engine) as session:
        assert [u.email for u in session.exec(select(User))] == ["boss@a.test"]
