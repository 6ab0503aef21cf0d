"""Mailbox secrets: encrypted at rest, never rendered or logged, re-encrypted by key rotation."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from dashboard import create_app
from dashboard.db.secrets import SecretBox
from tests.support.database import sqlite_only
from tests.support.mailboxes import (
    MAILBOX_URL,
    audit_events,
    connect,
    english_client,
    mailbox_events,
    mailbox_of,
)

HTMX = {"HX-Request": "true"}
TESTED_OK = "Connection tested: everything works."


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def rep_client(app, rep):  # type: ignore[no-untyped-def]
    """The rep with an English browser."""
    return english_client(app, rep.email)


@pytest.fixture
def admin_client(app, admin):  # type: ignore[no-untyped-def]
    """The admin with an English browser."""
    return english_client(app, admin.email)


@pytest.fixture
def connected(rep_client, rep, mailbox_user, engine):  # type: ignore[no-untyped-def]
    """The rep's mailbox connected to the session Dovecot."""
    response = connect(rep_client, mailbox_user)
    assert response.status_code == 302, response.data.decode()[:3000]
    return mailbox_of(engine, rep.id)


def database_bytes(app) -> bytes:  # type: ignore[no-untyped-def]
    """The SQLite file and its write-ahead log, as stored on disk."""
    db = Path(app.instance_path) / "leadsync.db"
    wal = db.with_name("leadsync.db-wal")
    assert db.exists()
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def key_file(app) -> Path:  # type: ignore[no-untyped-def]
    """The instance's Fernet key file."""
    return Path(app.instance_path) / "fernet.key"


def rotate(app):  # type: ignore[no-untyped-def]
    """Run `flask keys rotate`."""
    return app.test_cli_runner().invoke(args=["keys", "rotate"])


@sqlite_only("reads the database file")
def test_database_file_holds_no_plaintext_password(app, connected, mailbox_user):
    stored = database_bytes(app)
    assert connected.secret and connected.secret in stored  # the token is there...
    assert mailbox_user.password.encode() not in stored  # ...the password is not
    assert mailbox_user.password.encode("utf-16-le") not in stored


@sqlite_only("reads the database file")
def test_wrong_password_attempt_leaves_no_trace_of_it_on_disk(app, rep_client, mailbox_user):
    wrong = "qwertzuiopasdfgh"
    response = connect(rep_client, mailbox_user, password=wrong)
    assert response.status_code == 422
    assert wrong.encode() not in database_bytes(app)


def test_pages_never_contain_the_password(admin_client, rep_client, rep, connected, mailbox_user):
    pages = [
        rep_client.get(MAILBOX_URL),
        rep_client.get("/settings/profile"),
        rep_client.post(f"{MAILBOX_URL}test", headers=HTMX),
        admin_client.get("/settings/users/"),
        admin_client.get(f"/settings/users/{rep.id}"),
        admin_client.get("/settings/company"),
    ]
    for response in pages:
        assert response.status_code == 200, response.request.path
        html = response.data.decode()
        assert mailbox_user.password not in html, response.request.path
        assert connected.secret.decode() not in html, response.request.path


def test_logs_never_contain_the_password(caplog, app, rep_client, rep, mailbox_user, engine):
    caplog.set_level(logging.DEBUG)
    wrong = "zxcvbnmlkjhgfdsa"
    connect(rep_client, mailbox_user, password=wrong)
    assert connect(rep_client, mailbox_user).status_code == 302
    rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert rotate(app).exit_code == 0
    rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    rep_client.post(f"{MAILBOX_URL}disconnect")
    logged = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    assert "LOGIN" in logged  # the IMAP traffic was captured: the check below has teeth
    for secret in (mailbox_user.password, wrong):
        assert secret not in logged
    for event in mailbox_events(engine, rep.id):
        assert mailbox_user.password not in event.detail and wrong not in event.detail


def test_audit_log_never_contains_the_password(connected, mailbox_user, engine):
    events = audit_events(engine)
    assert "mailbox.connect" in [e.action for e in events]
    for event in events:
        assert mailbox_user.password not in repr(event.changes)
        assert connected.secret.decode() not in repr(event.changes)


def test_key_rotation_re_encrypts_every_secret(app, connected, mailbox_user, engine):
    old_key = key_file(app).read_bytes()
    result = rotate(app)
    assert result.exit_code == 0, result.output
    assert "1 mailbox secret(s) re-encrypted" in result.output
    assert mailbox_user.password not in result.output
    new_key = key_file(app).read_bytes()
    assert new_key != old_key
    assert stat.S_IMODE(key_file(app).stat().st_mode) == 0o600
    keys = new_key.split()
    assert len(keys) == 1
    token = mailbox_of(engine, connected.user_id).secret
    assert token != connected.secret
    assert Fernet(keys[0]).decrypt(token).decode() == mailbox_user.password
    with pytest.raises(InvalidToken):
        Fernet(old_key.strip()).decrypt(token)
    assert not list(Path(app.instance_path).glob("fernet*.tmp"))


def test_test_connection_still_works_after_rotation(app, rep_client, rep, connected, engine):
    assert rotate(app).exit_code == 0
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert response.status_code == 200
    assert TESTED_OK in response.data.decode()
    assert mailbox_of(engine, rep.id).status == "connected"


def test_a_running_server_keeps_working_after_rotation_from_another_process(
    app, rep_client, rep, connected, engine, dovecot_server
):
    # `flask keys rotate` runs in its own process while run.py keeps serving: the
    # server must not be left holding only the retired key.
    operator = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": app.instance_path,
            "IMAP_CA_FILE": dovecot_server.ca_file,
        }
    )
    try:
        assert rotate(operator).exit_code == 0
    finally:
        operator.extensions["leadsync.engine"].dispose()
    response = rep_client.post(f"{MAILBOX_URL}test", headers=HTMX)
    assert response.status_code == 200
    assert TESTED_OK in response.data.decode()


def test_a_restarted_app_decrypts_with_the_rotated_key(
    app, connected, mailbox_user, dovecot_server
):
    assert rotate(app).exit_code == 0
    restarted = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": app.instance_path,
            "IMAP_CA_FILE": dovecot_server.ca_file,
        }
    )
    try:
        box: SecretBox = restarted.extensions["leadsync.secrets"]
        token = mailbox_of(restarted.extensions["leadsync.engine"], connected.user_id).secret
        assert box.decrypt(token) == mailbox_user.password
    finally:
        restarted.extensions["leadsync.engine"].dispose()


def test_rotating_twice_keeps_one_key_and_working_secrets(app, connected, mailbox_user, engine):
    assert rotate(app).exit_code == 0
    assert rotate(app).exit_code == 0
    keys = key_file(app).read_bytes().split()
    assert len(keys) == 1
    token = mailbox_of(engine, connected.user_id).secret
    assert SecretBox(keys).decrypt(token) == mailbox_user.password


def test_rotation_without_mailboxes_just_replaces_the_key(app, admin):
    old_key = key_file(app).read_bytes()
    result = rotate(app)
    assert result.exit_code == 0, result.output
    assert "0 mailbox secret(s) re-encrypted" in result.output
    assert key_file(app).read_bytes() != old_key
    assert stat.S_IMODE(key_file(app).stat().st_mode) == 0o600
