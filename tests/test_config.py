"""Boot configuration: load order, the instance folder and the database location."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from dashboard import create_app
from tests.support import factories


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without LEADSYNC_* variables from the surrounding shell."""
    for name in list(os.environ):
        if name.startswith("LEADSYNC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    """Apps made by a test; their engines are closed afterwards."""
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["leadsync.engine"].dispose()


def make_app(apps: list[Flask], overrides: dict | None = None) -> Flask:
    """create_app with TESTING on, remembered for cleanup."""
    app = create_app({"TESTING": True, **(overrides or {})})
    apps.append(app)
    return app


def write_instance_config(instance: Path, text: str) -> None:
    """Put a config.py into an instance folder."""
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    (instance / "config.py").write_text(text)


def test_defaults_apply_when_nothing_is_configured(tmp_path, apps):
    app = make_app(apps, {"INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.config["LOGIN_MAX_FAILURES"] == 10
    assert app.config["PASSWORD_MIN_LENGTH"] == 10
    assert app.config["SECURE_COOKIES"] is False
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_config_load_order_defaults_file_environment_overrides(tmp_path, monkeypatch, apps):
    instance = tmp_path / "instance"
    write_instance_config(
        instance, "LOGIN_MAX_FAILURES = 5\nPASSWORD_MIN_LENGTH = 12\nIMAP_TIMEOUT = 3.0\n"
    )
    monkeypatch.setenv("LEADSYNC_PASSWORD_MIN_LENGTH", "14")
    monkeypatch.setenv("LEADSYNC_IMAP_TIMEOUT", "4.0")
    app = make_app(apps, {"INSTANCE_PATH": str(instance), "IMAP_TIMEOUT": 5.0})
    assert app.config["LOGIN_LOCK_MINUTES"] == 15  # default
    assert app.config["LOGIN_MAX_FAILURES"] == 5  # instance/config.py beats the default
    assert app.config["PASSWORD_MIN_LENGTH"] == 14  # LEADSYNC_* beats instance/config.py
    assert app.config["IMAP_TIMEOUT"] == 5.0  # create_app overrides beat the environment


def test_instance_config_is_used_by_the_running_app(tmp_path, apps):
    instance = tmp_path / "instance"
    write_instance_config(instance, "PASSWORD_MIN_LENGTH = 30\n")
    app = make_app(apps, {"INSTANCE_PATH": str(instance)})
    data = {
        "company": "Acme",
        "domains": "acme.test",
        "name": "Ana",
        "email": "ana@acme.test",
        "password": factories.PASSWORD,  # 16 characters: enough by default, not here
        "confirm": factories.PASSWORD,
    }
    app.config["WTF_CSRF_ENABLED"] = False
    assert app.test_client().post("/setup", data=data).status_code == 422


def test_secure_cookies_from_instance_config(tmp_path, apps):
    instance = tmp_path / "instance"
    write_instance_config(instance, "SECURE_COOKIES = True\n")
    app = make_app(apps, {"INSTANCE_PATH": str(instance)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_leadsync_instance_selects_the_instance_folder(tmp_path, monkeypatch, apps):
    instance = tmp_path / "elsewhere" / "instance"
    monkeypatch.setenv("LEADSYNC_INSTANCE", str(instance))
    monkeypatch.chdir(tmp_path)
    app = make_app(apps)
    assert Path(app.instance_path) == instance
    for name in ("secret_key", "fernet.key", "leadsync.db"):
        assert (instance / name).is_file(), name
    assert not (tmp_path / "instance").exists()


def test_instance_folder_defaults_to_instance_in_the_working_directory(tmp_path, monkeypatch, apps):
    monkeypatch.chdir(tmp_path)
    app = make_app(apps)
    assert Path(app.instance_path) == tmp_path / "instance"
    assert (tmp_path / "instance" / "leadsync.db").is_file()


def test_leadsync_instance_relative_path_is_made_absolute(tmp_path, monkeypatch, apps):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSYNC_INSTANCE", "relative/inst")
    app = make_app(apps)
    assert Path(app.instance_path) == tmp_path / "relative" / "inst"


def test_leadsync_database_url_overrides_the_sqlite_path(tmp_path, monkeypatch, apps):
    database = tmp_path / "data" / "other.db"
    database.parent.mkdir()
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", f"sqlite:///{database}")
    instance = tmp_path / "instance"
    app = make_app(apps, {"INSTANCE_PATH": str(instance)})
    engine = app.extensions["leadsync.engine"]
    assert Path(engine.url.database) == database
    factories.setup_company(engine)
    assert database.stat().st_size > 0
    assert not (instance / "leadsync.db").exists()


def test_two_instances_are_independent(tmp_path, apps):
    first = make_app(apps, {"INSTANCE_PATH": str(tmp_path / "one")})
    second = make_app(apps, {"INSTANCE_PATH": str(tmp_path / "two")})
    factories.setup_company(first.extensions["leadsync.engine"])
    assert first.test_client().get("/").headers["Location"].startswith("/login")
    assert second.test_client().get("/").headers["Location"] == "/setup"
    assert first.secret_key != second.secret_key
    assert (tmp_path / "one" / "fernet.key").read_bytes() != (
        tmp_path / "two" / "fernet.key"
    ).read_bytes()
