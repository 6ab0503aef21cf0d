"""`flask accounts add|list`: connect a mailbox from a script, verified like the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.mailboxes import service as mailboxes
from dashboard.models import SkippedMessage
from tests.support import factories
from tests.support.mailboxes import (
    add_account,
    all_mailboxes,
    audit_events,
    mailbox_events,
    mailbox_of,
)
from tests.support.servers.dovecot import free_port

GMAIL_SENT = "[Gmail]/E-mails enviados"


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def key_file(app) -> Path:  # type: ignore[no-untyped-def]
    """The instance Fernet key file."""
    return Path(app.instance_path) / "fernet.key"


def list_accounts(app, *flags: str):  # type: ignore[no-untyped-def]
    """Run `flask accounts list`."""
    return app.test_cli_runner().invoke(args=["accounts", "list", *flags])


def test_accounts_add_verifies_and_connects(app, rep, mailbox_user, engine):
    result = add_account(app, rep.email, mailbox_user)
    assert result.exit_code == 0, result.output
    folders = f"folders: INBOX, {GMAIL_SENT}"
    assert result.output.strip() == (
        f"Connected {mailbox_user.address}; {folders}; SMTP: none (sync only)."
    )
    mailbox = mailbox_of(engine, rep.id)
    assert mailbox.connected and mailbox.status == "connected"
    assert (mailbox.sent_folder, mailbox.sent_found_by) == (GMAIL_SENT, "flag")
    assert SecretBox.from_file(key_file(app)).decrypt(mailbox.secret) == mailbox_user.password
    assert mailbox_user.password not in result.output


def test_accounts_add_takes_the_owner_address_in_any_case(app, rep, mailbox_user, engine):
    result = add_account(app, f"  {rep.email.upper()} ", mailbox_user)
    assert result.exit_code == 0, result.output
    assert mailbox_of(engine, rep.id).connected


def test_accounts_add_strips_spaces_from_the_app_password(app, rep, mailbox_user, engine):
    p = mailbox_user.password
    result = add_account(app, rep.email, mailbox_user, password=f"{p[:4]} {p[4:8]} {p[8:]}")
    assert result.exit_code == 0, result.output
    assert SecretBox.from_file(key_file(app)).decrypt(mailbox_of(engine, rep.id).secret) == p


def test_wrong_password_exits_non_zero_with_one_line_and_saves_nothing(
    app, rep, mailbox_user, engine
):
    wrong = "notthepasswordxx"
    result = add_account(app, rep.email, mailbox_user, password=wrong)
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error:") and "auth_failed" in line
    assert wrong not in result.output
    assert all_mailboxes(engine) == []
    assert [(e.kind, e.code) for e in mailbox_events(engine, rep.id)] == [
        ("verify_failed", "auth_failed")
    ]


def test_closed_port_exits_non_zero_with_one_line(app, rep, mailbox_user, engine):
    port = free_port()
    result = add_account(app, rep.email, mailbox_user, port=port)
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert "connection_refused" in line and f"127.0.0.1:{port}" in line
    assert all_mailboxes(engine) == []


def test_unknown_owner_is_refused_with_one_line(app, admin, mailbox_user, engine):
    result = add_account(app, "nobody@acme.test", mailbox_user)
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert "nobody@acme.test" in line
    assert all_mailboxes(engine) == []


def test_plain_imap_to_a_remote_host_is_refused(app, rep, mailbox_user, engine):
    result = add_account(
        app, rep.email, mailbox_user, host="imap.example.com", port=143, security="none"
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert all_mailboxes(engine) == []
    assert mailbox_events(engine, rep.id) == []  # refused before contacting anything


def test_an_address_another_user_connected_is_refused(app, rep, admin, mailbox_user, engine):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    result = add_account(app, admin.email, mailbox_user)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert mailbox_of(engine, admin.id) is None


def test_a_cli_connection_is_audited_as_the_command_line(app, rep, mailbox_user, engine):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    (event,) = [e for e in audit_events(engine) if e.action == "mailbox.connect"]
    assert event.changes["address"] == mailbox_user.address
    assert mailbox_user.password not in json.dumps(event.changes)
    # The operator ran the command, not the rep: the log must not put it in the rep's name.
    assert (event.actor, event.actor_id) == ("cli", None)


def test_accounts_list_json_shows_status_and_no_secret(app, rep, mailbox_user, engine):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    result = list_accounts(app, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["address"] == mailbox_user.address
    assert row["owner"] == rep.email
    assert (row["status"], row["connected"]) == ("connected", True)
    assert row["folders"] == ["INBOX", GMAIL_SENT]
    assert not {"secret", "password"} & set(row)
    assert mailbox_user.password not in result.output
    assert mailbox_of(engine, rep.id).secret.decode() not in result.output


def test_accounts_list_shows_connected_and_disconnected_mailboxes(app, rep, mailbox_user, engine):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    text = list_accounts(app).output
    assert text == f"{mailbox_user.address}\t{rep.email}\tconnected\t\n"
    with write_session(engine) as session:
        mailboxes.disconnect_mailbox(session, mailboxes.mailbox_of(session, rep.id), rep)
    (row,) = json.loads(list_accounts(app, "--json").output)
    assert (row["status"], row["connected"]) == ("disconnected", False)


def test_accounts_list_is_empty_without_mailboxes(app, admin):
    result = list_accounts(app, "--json")
    assert result.exit_code == 0 and json.loads(result.output) == []


# --- accounts show | disconnect | reconnect: the console's actions from a script -----------


def run_accounts(app, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    """Run `flask accounts ...`."""
    return app.test_cli_runner().invoke(args=["accounts", *args], input=stdin)


def test_accounts_show_json_has_the_ledger_counts_and_no_secret(app, rep, mailbox_user, engine):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    box = mailbox_of(engine, rep.id)
    with write_session(engine) as session:
        for reason, message_id in (("no_lead", "<a@t>"), ("no_lead", "<b@t>"), ("automated", "")):
            session.add(SkippedMessage(mailbox_id=box.id, folder="INBOX", uidvalidity=1,
                                       uid=factories.next_number(), message_id=message_id,
                                       reason=reason))  # fmt: skip
    result = run_accounts(app, "show", mailbox_user.address.upper(), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["owner"], report["status"], report["stored"]) == (rep.email, "connected", 0)
    assert report["skipped"] == {"no_lead": 2, "automated": 1}
    assert mailbox_user.password not in result.output
    assert box.secret.decode() not in result.output
    text = run_accounts(app, "show", mailbox_user.address).output
    assert "skipped: automated=1, no_lead=2" in text and f"owner: {rep.email}" in text


def test_accounts_show_an_unknown_address_fails_with_one_line(app, admin):
    result = run_accounts(app, "show", "nobody@acme.test")
    assert result.exit_code == 1 and "no mailbox nobody@acme.test" in result.output


def test_accounts_disconnect_forgets_the_secret_and_is_audited_as_the_command_line(
    app, rep, mailbox_user, engine
):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    result = run_accounts(app, "disconnect", mailbox_user.address)
    assert result.exit_code == 0, result.output
    box = mailbox_of(engine, rep.id)
    assert box.secret is None and box.status == "disconnected"
    event = audit_events(engine)[-1]
    assert (event.action, event.actor, event.actor_id) == ("mailboxes.disconnect", "cli", None)
    again = run_accounts(app, "disconnect", mailbox_user.address)
    assert again.exit_code == 1 and "is not connected" in again.output


def test_accounts_reconnect_verifies_the_new_password_and_keeps_the_settings(
    app, rep, mailbox_user, engine
):
    assert add_account(app, rep.email, mailbox_user).exit_code == 0
    assert run_accounts(app, "disconnect", mailbox_user.address).exit_code == 0
    wrong = run_accounts(app, "reconnect", mailbox_user.address, "--password-stdin",
                         stdin="wrongwrongwrongx\n")  # fmt: skip
    assert wrong.exit_code == 1 and not mailbox_of(engine, rep.id).connected
    result = run_accounts(app, "reconnect", mailbox_user.address, "--password-stdin",
                          stdin=f"{mailbox_user.password}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    box = mailbox_of(engine, rep.id)
    assert box.connected and box.status == "connected"
    assert (box.imap_port, box.folders) == (mailbox_user.server.port, ["INBOX", GMAIL_SENT])
    assert box.connected_by_user_id is None  # the command line
    assert mailbox_user.password not in result.output
