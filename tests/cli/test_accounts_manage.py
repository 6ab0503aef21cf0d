"""`flask accounts show|disconnect|reconnect`: an operator runs a rep's mailbox from a script,
through the same service, verification and status counts as the pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.db.secrets import SecretBox
from dashboard.states import MailboxStatus
from tests.support.mailboxes import (
    add_account,
    at_noon_in_sao_paulo,
    audit_events,
    mail_on,
    mailbox_events,
    mailbox_of,
)
from tests.support.sync import SENT, set_mailbox, sync

SHOW_KEYS = {
    "address", "owner", "provider", "status", "connected", "last_success_at", "next_sync_at",
    "stored", "skipped", "seen_again", "last_error",
}  # fmt: skip


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def connected(app, rep, mailbox_user, engine):  # type: ignore[no-untyped-def]
    """The rep's mailbox, connected with `accounts add`."""
    result = add_account(app, rep.email, mailbox_user)
    assert result.exit_code == 0, result.output
    return mailbox_of(engine, rep.id)


def accounts(app, *args: str, password: str | None = None):  # type: ignore[no-untyped-def]
    """Run `flask accounts ...` (a password goes to stdin)."""
    stdin = None if password is None else password + "\n"
    return app.test_cli_runner().invoke(args=["accounts", *args], input=stdin)


def secret_of(app, engine, user_id: int) -> str | None:  # type: ignore[no-untyped-def]
    """The decrypted secret of the user's mailbox (None when disconnected)."""
    secret = mailbox_of(engine, user_id).secret
    box = SecretBox.from_file(Path(app.instance_path) / "fernet.key")
    return box.decrypt(secret) if secret else None


def test_disconnect_forgets_the_password_and_is_audited_as_the_cli(
    app, rep, mailbox_user, engine, connected
):
    result = accounts(app, "disconnect", f" {mailbox_user.address.upper()}")
    assert result.exit_code == 0, result.output
    assert result.output == f"Disconnected {mailbox_user.address}; its stored emails stay.\n"
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.secret, mailbox.status) == (None, MailboxStatus.DISCONNECTED)
    (event,) = [e for e in audit_events(engine) if e.action == "mailboxes.disconnect"]
    assert (event.actor, event.actor_id, event.changes) == (
        "cli", None, {"address": mailbox_user.address, "history": "kept"},
    )  # fmt: skip
    again = accounts(app, "disconnect", mailbox_user.address)
    assert again.exit_code != 0
    assert again.output == f"Error: {mailbox_user.address} is not connected\n"


@pytest.mark.parametrize("command", ["show", "disconnect", "reconnect"])
def test_an_unknown_address_is_refused_in_one_line(app, admin, command):
    result = accounts(app, command, "ninguem@acme.test", password="whatever")
    assert result.exit_code != 0
    assert result.output == "Error: no mailbox ninguem@acme.test\n"


def test_reconnect_verifies_the_new_password_on_the_real_server(
    app, rep, mailbox_user, engine, connected
):
    box = app.extensions["leadsync.secrets"]
    set_mailbox(
        engine, connected.id, secret=box.encrypt("the-old-one"), failures=4, next_sync_at=None,
        status=MailboxStatus.NEEDS_RECONNECT, last_error_code="auth_failed",
    )  # fmt: skip

    result = accounts(app, "reconnect", mailbox_user.address, "--password-stdin",
                      password=mailbox_user.password)  # fmt: skip

    assert result.exit_code == 0, result.output
    reconnected = f"Reconnected {mailbox_user.address} for {rep.email}; it syncs shortly.\n"
    assert result.output == reconnected
    mailbox = mailbox_of(engine, rep.id)
    assert (mailbox.status, mailbox.last_error_code, mailbox.failures) == ("connected", None, 0)
    assert mailbox.next_sync_at is not None  # due now: the next round picks it up
    assert secret_of(app, engine, rep.id) == mailbox_user.password
    assert mailbox_events(engine, rep.id)[-1].kind == "verified"
    connects = [e for e in audit_events(engine) if e.action == "mailbox.connect"]
    assert [(e.actor, e.changes["user"]) for e in connects] == [("cli", rep.email)] * 2
    assert mailbox_user.password not in result.output
    assert mailbox_user.password not in json.dumps([e.changes for e in connects])


def test_reconnect_with_a_wrong_password_changes_nothing(app, rep, mailbox_user, engine, connected):
    wrong = "notthepasswordxx"
    result = accounts(app, "reconnect", mailbox_user.address, "--password-stdin", password=wrong)
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error:") and "auth_failed" in line
    assert wrong not in result.output
    assert secret_of(app, engine, rep.id) == mailbox_user.password  # the working one stays
    assert [(e.kind, e.code) for e in mailbox_events(engine, rep.id)][-1] == (
        "verify_failed", "auth_failed",
    )  # fmt: skip


def test_show_json_has_the_status_counts_and_the_last_error_in_words(
    app, rep, mailbox_user, engine, connected
):
    owner = mailbox_user.address
    proposal = mail_on(at_noon_in_sao_paulo(2), sender=owner, to="compras@prospect.test",
                       subject="Proposta")  # fmt: skip
    internal = mail_on(at_noon_in_sao_paulo(2), sender="colega@acme.test", to=owner,
                       subject="Almoço")  # fmt: skip
    for folder, data in ((SENT, proposal), (SENT, proposal), ("INBOX", internal)):
        mailbox_user.append(folder, data)
    assert sync(app, connected.id).error_code is None

    result = accounts(app, "show", owner, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == SHOW_KEYS
    assert {k: report[k] for k in ("address", "owner", "provider", "status", "connected")} == {
        "address": owner, "owner": rep.email, "provider": "other", "status": "connected",
        "connected": True,
    }  # fmt: skip
    assert (report["stored"], report["skipped"], report["seen_again"]) == (1, {"internal": 1}, 1)
    assert report["last_success_at"] and report["next_sync_at"] is None
    assert report["last_error"] is None
    assert mailbox_user.password not in result.output

    set_mailbox(engine, connected.id, status="error", last_error_code="auth_failed")
    failing = json.loads(accounts(app, "show", owner, "--json").output)
    assert failing["last_error"] == {
        "code": "auth_failed", "cause": "O servidor recusou o endereço ou a senha de app.",
    }  # fmt: skip
    text = accounts(app, "show", owner).output.splitlines()
    assert "seen again: 1" in text and "skipped: internal=1" in text
    assert "last error: auth_failed: O servidor recusou o endereço ou a senha de app." in text
