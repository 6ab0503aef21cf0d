"""Shared fixtures: an app per test on its own database, logged-in clients, real servers.

The database is a SQLite file per test; with LEADSYNC_TEST_DATABASE=postgres (`make
test-postgres`) it is a fresh database of a real PostgreSQL server started for the session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dashboard import create_app
from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade
from tests.support import factories
from tests.support.clients import CSRFClient, log_in
from tests.support.database import ON_POSTGRES

pytest_plugins = [
    "tests.support.servers.dovecot",
    "tests.support.servers.browser",
    "tests.support.servers.smtp",
    "tests.support.servers.oauth",
    "tests.support.servers.postgres",
]


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database upgraded to head once; each test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "leadsync.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def app_config() -> dict:
    """Per-test overrides of the app configuration (override this fixture in a module)."""
    return {}


@pytest.fixture
def app(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    app_config: dict,
) -> Iterator[Flask]:
    """An app with its own instance folder and a fresh database."""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    database: dict[str, str] = {}
    if ON_POSTGRES:
        database["DATABASE_URL"] = request.getfixturevalue("postgres_database")()
        # A second app on the same instance, or a CLI subprocess, finds the same database.
        monkeypatch.setenv("LEADSYNC_DATABASE_URL", database["DATABASE_URL"])
    else:
        shutil.copyfile(request.getfixturevalue("migrated_db"), instance / "leadsync.db")
    config = {"TESTING": True, "INSTANCE_PATH": str(instance), **database, **app_config}
    app = create_app(config)
    app.test_client_class = CSRFClient
    yield app
    app.extensions["leadsync.engine"].dispose()


@pytest.fixture
def engine(app: Flask):  # type: ignore[no-untyped-def]
    """The app's database engine."""
    return app.extensions["leadsync.engine"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous client."""
    return app.test_client()


@pytest.fixture
def admin(engine):  # type: ignore[no-untyped-def]
    """The administrator created by first-run setup."""
    return factories.setup_company(engine)


@pytest.fixture
def rep(engine, admin):  # type: ignore[no-untyped-def]
    """A sales rep of the admin's company."""
    return factories.make_user(engine, role="rep")


@pytest.fixture
def relay(dovecot_server):  # type: ignore[no-untyped-def]
    """A loopback relay to Dovecot (cuts after `limit` bytes, stalls while its gate is shut)."""
    from tests.support.sync import CuttingRelay

    relay = CuttingRelay(dovecot_server.port)
    yield relay
    relay.gate.set()
    relay.close()


@pytest.fixture
def teammate(engine, admin):  # type: ignore[no-untyped-def]
    """Another rep of the company."""
    return factories.make_user(engine, role="rep", name="Tina Teammate")


@pytest.fixture
def admin_client(app: Flask, admin) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A client logged in as the administrator."""
    return log_in(app.test_client(), admin.email)


@pytest.fixture
def rep_client(app: Flask, rep) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A client logged in as a sales rep."""
    return log_in(app.test_client(), rep.email)
