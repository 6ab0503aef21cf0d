"""The Dovecot test server behaves like the real thing: verified TLS, special-use, append/fetch."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable

import imapclient
import pytest

from tests.support.servers.dovecot import DovecotServer, MailboxUser, imap_connection, new_user

pytest_plugins = ["tests.support.servers.dovecot"]
MakeDovecot = Callable[..., DovecotServer]

MESSAGE = (
    b"From: Ana <ana@client.test>\r\nTo: rep@acme.test\r\nSubject: Proposta\r\n"
    b"Message-ID: <p1@client.test>\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n\r\nOla!\r\n"
)


def _flags_by_name(user: MailboxUser) -> dict[str, tuple[bytes, ...]]:
    """LIST the user's folders as {name: flags}."""
    with user.connect() as client:
        return {name: flags for flags, _delimiter, name in client.list_folders()}


def test_login_verifies_the_certificate_against_the_ca_file(mailbox_user: MailboxUser) -> None:
    server = mailbox_user.server
    context = ssl.create_default_context(cafile=server.ca_file)
    with imapclient.IMAPClient(server.host, server.port, ssl_context=context, timeout=5) as client:
        cert = client.socket().getpeercert()
        client.login(mailbox_user.address, mailbox_user.password)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    assert ("DNS", "localhost") in cert["subjectAltName"]


def test_certificate_is_rejected_without_the_ca_file(dovecot_server: DovecotServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(dovecot_server.host, dovecot_server.port, timeout=5)


def test_gmail_pt_layout_lists_special_use_folders(mailbox_user: MailboxUser) -> None:
    folders = _flags_by_name(mailbox_user)
    assert b"\\Sent" in folders["[Gmail]/E-mails enviados"]
    assert b"\\Drafts" in folders["[Gmail]/Rascunhos"]
    assert b"\\Trash" in folders["[Gmail]/Lixeira"]
    assert b"\\Junk" in folders["[Gmail]/Spam"]
    assert b"\\All" in folders["[Gmail]/Todos os e-mails"]
    assert b"\\Noselect" in folders["[Gmail]"]  # as Gmail lists it
    assert "INBOX" in folders


def test_appended_message_is_fetched_back_by_uid(mailbox_user: MailboxUser) -> None:
    when = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)
    uid = mailbox_user.append("[Gmail]/E-mails enviados", MESSAGE, flags=[b"\\Seen"], msg_time=when)
    with mailbox_user.connect() as client:
        client.select_folder("[Gmail]/E-mails enviados", readonly=True)
        fetched = client.fetch([uid], ["RFC822", "FLAGS", "INTERNALDATE"])[uid]
    assert fetched[b"RFC822"] == MESSAGE
    assert b"\\Seen" in fetched[b"FLAGS"]
    assert fetched[b"INTERNALDATE"].replace(tzinfo=None) == when.astimezone().replace(tzinfo=None)


def test_uids_increase_and_condstore_reports_highestmodseq(mailbox_user: MailboxUser) -> None:
    first, second = mailbox_user.append("INBOX", MESSAGE), mailbox_user.append("INBOX", MESSAGE)
    with mailbox_user.connect() as client:
        status = client.folder_status("INBOX", [b"UIDNEXT", b"HIGHESTMODSEQ"])
        assert {b"CONDSTORE", b"QRESYNC"} <= set(client.capabilities())
        client.enable("CONDSTORE")  # SELECT reports HIGHESTMODSEQ once CONDSTORE is on
        selected = client.select_folder("INBOX", readonly=True)
    assert second == first + 1 and status[b"UIDNEXT"] == second + 1
    assert selected[b"HIGHESTMODSEQ"] == status[b"HIGHESTMODSEQ"] > 1


def test_wrong_password_fails_with_a_login_error(mailbox_user: MailboxUser) -> None:
    with (
        pytest.raises(imapclient.exceptions.LoginError, match="AUTHENTICATIONFAILED"),
        imap_connection(mailbox_user.server, mailbox_user.address, "wrong" + mailbox_user.password),
    ):
        pass


def test_user_added_while_running_can_log_in_at_once(dovecot_server: DovecotServer) -> None:
    users = [new_user(dovecot_server) for _ in range(3)]  # same second, back to back
    for user in users:
        with user.connect() as client:
            assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_users_are_isolated(mailbox_user: MailboxUser, dovecot_server: DovecotServer) -> None:
    mailbox_user.append("INBOX", MESSAGE)
    with new_user(dovecot_server).connect() as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_no_special_use_layout_has_plain_folders(make_dovecot: MakeDovecot) -> None:
    folders = _flags_by_name(new_user(make_dovecot("no_special_use")))
    assert set(folders) == {"INBOX", "Enviados", "Lixo"}
    assert not any(b"\\Sent" in flags or b"\\Trash" in flags for flags in folders.values())


def test_stop_closes_the_port_and_removes_the_directory(make_dovecot: MakeDovecot) -> None:
    server = make_dovecot()
    port, directory = server.port, server.directory
    server.stop()
    assert not directory.exists()
    with pytest.raises(ConnectionRefusedError):
        imapclient.IMAPClient("127.0.0.1", port, timeout=2)
