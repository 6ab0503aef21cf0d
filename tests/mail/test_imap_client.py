"""The IMAP wrapper against a real Dovecot: verify, error codes, timeouts, STARTTLS."""

from __future__ import annotations

import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dashboard.mail import imap_client
from dashboard.mail.imap_client import ImapError, connect, verify
from dashboard.mail.net import ServerSettings
from tests.support.servers.dovecot import DovecotServer, MailboxUser, free_port, new_user

pytest_plugins = ["tests.support.servers.dovecot"]
MakeDovecot = Callable[..., DovecotServer]


def settings_for(user: MailboxUser, **overrides: object) -> ServerSettings:
    """IMAPS settings for a test user, with overrides."""
    server = user.server
    values: dict[str, object] = {
        "host": server.host, "port": server.port, "security": "tls", "username": user.address,
        "password": user.password, "ca_file": server.ca_file, "timeout": 5.0,
        "allow_local": True,  # the test server listens on 127.0.0.1
    }  # fmt: skip
    return ServerSettings(**{**values, **overrides})  # type: ignore[arg-type]


def verify_error(settings: ServerSettings, budget: float = 20.0) -> ImapError:
    """Run verify and return the ImapError it must raise."""
    with pytest.raises(ImapError) as caught:
        verify(settings, budget=budget)
    return caught.value


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose TCP handshake completes (via the backlog) but that never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_correct_password_verifies_and_finds_sent_by_flag(mailbox_user: MailboxUser) -> None:
    result = verify(settings_for(mailbox_user))
    assert (result.sent_folder, result.sent_found_by) == ("[Gmail]/E-mails enviados", "flag")
    sent = next(f for f in result.folders if f.name == "[Gmail]/E-mails enviados")
    assert "\\Sent" in sent.flags and sent.delimiter == "/"
    assert {"INBOX", "[Gmail]/Lixeira"} <= {f.name for f in result.folders}
    assert {"IMAP4REV1", "CONDSTORE", "SPECIAL-USE"} <= set(result.capabilities)


def test_wrong_password_is_auth_failed(mailbox_user: MailboxUser) -> None:
    error = verify_error(settings_for(mailbox_user, password="wrongpassword123"))
    assert (error.code, error.transient) == ("auth_failed", False)
    assert "AUTHENTICATIONFAILED" in error.raw and "wrongpassword123" not in str(error)


def test_folder_without_special_use_is_found_by_name(make_dovecot: MakeDovecot) -> None:
    user = new_user(make_dovecot("no_special_use"))
    result = verify(settings_for(user))
    assert (result.sent_folder, result.sent_found_by) == ("Enviados", "name")


def test_closed_port_is_connection_refused(mailbox_user: MailboxUser) -> None:
    error = verify_error(settings_for(mailbox_user, port=free_port()))
    assert (error.code, error.transient) == ("connection_refused", True)


def test_tls_without_the_ca_file_is_a_certificate_error(mailbox_user: MailboxUser) -> None:
    error = verify_error(settings_for(mailbox_user, ca_file=None))
    assert error.code == "tls_certificate" and "CERTIFICATE_VERIFY_FAILED" in error.raw


def test_localhost_matches_the_certificate_by_dns_name(mailbox_user: MailboxUser) -> None:
    assert verify(settings_for(mailbox_user, host="localhost")).sent_found_by == "flag"


def test_unresolvable_host_is_dns_failed(mailbox_user: MailboxUser) -> None:
    error = verify_error(settings_for(mailbox_user, host="nonexistent.invalid"))
    assert error.code == "dns_failed"


def test_silent_server_times_out(mailbox_user: MailboxUser, silent_port: int) -> None:
    started = time.monotonic()
    error = verify_error(settings_for(mailbox_user, port=silent_port, timeout=1.0))
    assert (error.code, error.transient) == ("timeout", True)
    assert time.monotonic() - started < 3


def test_verify_budget_caps_a_longer_socket_timeout(
    mailbox_user: MailboxUser, silent_port: int
) -> None:
    started = time.monotonic()
    error = verify_error(settings_for(mailbox_user, port=silent_port, timeout=20.0), budget=1.0)
    assert error.code == "timeout" and time.monotonic() - started < 3


def test_tls_to_a_plain_port_is_a_tls_failure(mailbox_user: MailboxUser) -> None:
    error = verify_error(settings_for(mailbox_user, port=mailbox_user.server.starttls_port))
    assert error.code == "tls_failed"


def test_starttls_verifies(mailbox_user: MailboxUser) -> None:
    port = mailbox_user.server.starttls_port
    result = verify(settings_for(mailbox_user, port=port, security="starttls"))
    assert result.sent_found_by == "flag"


def test_starttls_checks_the_certificate_too(mailbox_user: MailboxUser) -> None:
    port = mailbox_user.server.starttls_port
    error = verify_error(settings_for(mailbox_user, port=port, security="starttls", ca_file=None))
    assert error.code == "tls_certificate"


def test_plain_imap_works_on_loopback(mailbox_user: MailboxUser) -> None:
    port = mailbox_user.server.starttls_port
    result = verify(settings_for(mailbox_user, port=port, security="none", ca_file=None))
    assert result.sent_folder == "[Gmail]/E-mails enviados"


def test_non_ascii_password_logs_in_with_authenticate_plain(
    dovecot_server: DovecotServer,
) -> None:
    user = MailboxUser(f"joao.{secrets.token_hex(4)}@acme.test", "senha-ção-2025", dovecot_server)
    dovecot_server.add_user(user.address, user.password)
    assert verify(settings_for(user)).sent_found_by == "flag"
    error = verify_error(settings_for(user, password="senha-ção-2024"))
    assert error.code == "auth_failed" and "senha-ção-2024" not in str(error)


def test_connection_limit_is_too_many_connections(make_dovecot: MakeDovecot) -> None:
    user = new_user(make_dovecot(max_userip_connections=1))
    with user.connect():  # holds the only allowed connection
        error = verify_error(settings_for(user))
    assert (error.code, error.transient) == ("too_many_connections", True)


def test_errors_inside_the_block_become_imap_errors(mailbox_user: MailboxUser) -> None:
    with pytest.raises(ImapError) as caught, connect(settings_for(mailbox_user)) as client:
        client.select_folder("Does not exist")
    assert caught.value.code == "protocol" and "doesn't exist" in caught.value.raw


def test_two_connections_opened_at_once_load_the_ca_store_once(
    mailbox_user: MailboxUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CAs costs tens of ms of CPU under the GIL: the sync's two lanes used to
    connect at the same moment and both missed the shared context's cache."""
    built = []
    original = ssl.create_default_context

    def slow_context(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(threading.current_thread().name)
        time.sleep(0.2)  # the window in which the second connection used to miss the cache
        return original(*args, **kwargs)  # type: ignore[arg-type]

    imap_client._shared_context.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", slow_context)
    settings = settings_for(mailbox_user)
    barrier = threading.Barrier(2)
    folders: list[int] = []

    def open_one() -> None:
        barrier.wait()
        with connect(settings) as client:
            folders.append(len(client.list_folders()))

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    imap_client._shared_context.cache_clear()  # no context built with the patch stays around
    assert len(folders) == 2 and len(built) == 1
