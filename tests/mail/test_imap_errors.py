"""Pure rules of the IMAP wrapper: answer classification, redaction, loopback, Sent lookup."""

from __future__ import annotations

import socket
import ssl

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from dashboard.mail.folders import FolderInfo, find_sent_folder, syncable_folders
from dashboard.mail.imap_client import (
    ErrorCode,
    ImapError,
    classify_server_answer,
    connect,
    exception_code,
    login_error,
)
from dashboard.mail.net import ServerSettings, is_loopback_host, redact

SETTINGS = ServerSettings("imap.gmail.com", 993, "tls", "rep@acme.test", "abcdefghijklmnop")

# What servers really answer to a failed LOGIN (the tagged NO text, or a BYE).
REAL_ANSWERS = [
    # Gmail
    ("[ALERT] Application-specific password required: "
     "https://support.google.com/accounts/answer/185833 (Failure)", "app_password_required"),
    ("[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page "
     "and enable your account for IMAP access. (Failure)", "imap_disabled"),
    ("[AUTHENTICATIONFAILED] Invalid credentials (Failure)", "auth_failed"),
    ("[ALERT] Please log in via your web browser: "
     "https://support.google.com/mail/accounts/answer/78754 (Failure)", "auth_failed"),
    ("[ALERT] Too many simultaneous connections. (Failure)", "too_many_connections"),
    ("[ALERT] Account exceeded command or bandwidth limits. (Failure)", "overquota"),
    # Dovecot (the last two seen from the test server)
    ("[UNAVAILABLE] Temporary authentication failure. [mx1:2025-03-03 10:00:00]", "unavailable"),
    ("[SERVERBUG] Internal error occurred. Refer to server log for more information.",
     "unavailable"),
    ("[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
     "auth_failed"),
    ("[OVERQUOTA] Quota exceeded (mailbox for user is full)", "overquota"),
    ("[AUTHENTICATIONFAILED] Authentication failed.", "auth_failed"),
    ("[LIMIT] Maximum number of connections from user+IP exceeded "
     "(mail_max_userip_connections=10)", "too_many_connections"),
    # Microsoft 365, Yahoo
    ("LOGIN failed.", "auth_failed"),
    ("[AUTHENTICATIONFAILED] LOGIN Invalid credentials", "auth_failed"),
    # Other providers' IMAP-off wordings (Yahoo/Zoho-like)
    ("IMAP access is disabled for this account", "imap_disabled"),
    ("[ALERT] IMAP is disabled. Enable it in your mail settings.", "imap_disabled"),
    ("You are yet to enable IMAP for your account. Please contact your administrator.",
     "imap_disabled"),
    # imaplib's words for a connection dropped during LOGIN
    ("command: LOGIN => socket error: EOF", "network"),
    ("", "auth_failed"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "code"), REAL_ANSWERS)
def test_real_login_answers_map_to_codes(answer: str, code: str) -> None:
    error = login_error(answer, SETTINGS)
    assert error.code == code
    assert (error.host, error.port, error.raw) == ("imap.gmail.com", 993, answer)


@pytest.mark.parametrize(("answer", "code"), REAL_ANSWERS[:6])
def test_answers_arrive_the_same_as_bytes_or_as_imapclient_wraps_them(
    answer: str, code: str
) -> None:
    wrapped = LoginError(str(answer.encode()))  # imapclient: LoginError("b'...'")
    for failure in (answer.encode(), wrapped):
        error = login_error(failure, SETTINGS)
        assert (error.code, error.raw) == (code, answer)


def test_classify_server_answer_defaults_to_auth_failed() -> None:
    assert classify_server_answer("NO something odd") == ErrorCode.AUTH_FAILED == "auth_failed"


@pytest.mark.parametrize(
    ("code", "transient"),
    [("network", True), ("timeout", True), ("unavailable", True), ("overquota", True),
     ("too_many_connections", True), ("connection_refused", True), ("dns_failed", True),
     ("auth_failed", False), ("app_password_required", False), ("imap_disabled", False),
     ("tls_certificate", False), ("tls_failed", False), ("protocol", False)],
)  # fmt: skip
def test_transient_codes(code: str, transient: bool) -> None:
    assert ImapError(code, "x", host="h", port=1).transient is transient


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ssl.SSLCertVerificationError("certificate verify failed"), "tls_certificate"),
        (ssl.SSLError("wrong version number"), "tls_failed"),
        (ConnectionRefusedError(111, "Connection refused"), "connection_refused"),
        (socket.gaierror(-2, "Name or service not known"), "dns_failed"),
        (TimeoutError("timed out"), "timeout"),
        (socket.timeout("The handshake operation timed out"), "timeout"),  # noqa: UP041
        (ConnectionResetError(104, "Connection reset by peer"), "network"),
        (IMAPClientAbortError("socket error: EOF"), "network"),
        (IMAPClientAbortError("b'[ALERT] Too many simultaneous connections. (Failure)'"),
         "too_many_connections"),
        (IMAPClientError("select failed: b'Mailbox doesn't exist: Nope'"), "protocol"),
    ],
)  # fmt: skip
def test_exception_codes(exc: BaseException, code: str) -> None:
    assert exception_code(exc) == code


@pytest.mark.parametrize("password", ["abcdefghijklmnop", 'p"a\\ss wörd', "dact", "*"])
def test_password_never_appears_in_an_error(password: str) -> None:
    settings = ServerSettings("localhost", 143, "none", "rep@acme.test", password)
    answers = [f"[AUTHENTICATIONFAILED] bad {password} for rep", str(password.encode()),
               f"echo {password!r}", password * 3]  # fmt: skip
    for answer in answers:
        error = login_error(answer, settings)
        for text in (error.raw, str(error), repr(error), repr(error.args)):
            assert password not in text


def test_redact_keeps_text_without_the_secret() -> None:
    assert redact("LOGIN failed.", "abcdefghijklmnop") == "LOGIN failed."
    assert redact("x secret y", "secret") == "x [redacted] y"
    assert redact("anything", "") == "anything"


def test_server_settings_repr_hides_the_password() -> None:
    assert "abcdefghijklmnop" not in repr(SETTINGS)
    assert "abcdefghijklmnop" not in str(SETTINGS)
    assert "imap.gmail.com" in repr(SETTINGS)


@pytest.mark.parametrize(("field", "value"), [("security", "ssl"), ("port", 0), ("port", 70000)])
def test_server_settings_reject_bad_values(field: str, value: object) -> None:
    args = {"host": "h", "port": 993, "security": "tls", "username": "u", "password": "p"}
    with pytest.raises(ValueError, match=field):
        ServerSettings(**{**args, field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.1.2.3", True),
     ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True), (" 127.0.0.1 ", True),
     ("10.0.0.1", False), ("0.0.0.0", False), ("::", False), ("128.0.0.1", False),  # noqa: S104
     ("imap.gmail.com", False), ("localhost.evil.test", False), ("127.0.0.1.nip.io", False),
     ("", False)],
)  # fmt: skip
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_plain_imap_is_refused_for_a_remote_host_before_connecting() -> None:
    settings = ServerSettings("imap.acme.test", 143, "none", "rep@acme.test", "pw")
    with pytest.raises(ValueError, match="plain IMAP"), connect(settings):
        pass


def _folder(name: str, *flags: str, delimiter: str = "/") -> FolderInfo:
    """Build a FolderInfo tersely."""
    return FolderInfo(name, flags, delimiter)


@pytest.mark.parametrize(
    ("folders", "expected"),
    [
        ([_folder("INBOX"), _folder("Sent"), _folder("[Gmail]/E-mails enviados", "\\Sent")],
         ("[Gmail]/E-mails enviados", "flag")),
        ([_folder("INBOX"), _folder("Archive", "\\sent")], ("Archive", "flag")),
        ([_folder("INBOX"), _folder("Enviados"), _folder("Lixo")], ("Enviados", "name")),
        ([_folder("INBOX"), _folder("INBOX.Sent", delimiter=".")], ("INBOX.Sent", "name")),
        ([_folder("INBOX"), _folder("Itens Enviados")], ("Itens Enviados", "name")),
        ([_folder("INBOX"), _folder("SENT ITEMS")], ("SENT ITEMS", "name")),
        ([_folder("Mensagens enviadas", delimiter="")], ("Mensagens enviadas", "name")),
        ([_folder("Sent Items"), _folder("Sent")], ("Sent", "name")),
        ([_folder("Sent", "\\Noselect"), _folder("Sent Messages")], ("Sent Messages", "name")),
        ([_folder("INBOX"), _folder("Sent Stuff"), _folder("Enviados antigos")], (None, None)),
        ([], (None, None)),
    ],
)  # fmt: skip
def test_find_sent_folder(folders: list[FolderInfo], expected: tuple[str | None, ...]) -> None:
    assert find_sent_folder(folders) == expected


def test_syncable_folders_skip_trash_junk_drafts_and_noselect() -> None:
    folders = [
        _folder("INBOX", "\\HasNoChildren"), _folder("[Gmail]", "\\Noselect", "\\HasChildren"),
        _folder("[Gmail]/E-mails enviados", "\\Sent"), _folder("[Gmail]/Rascunhos", "\\Drafts"),
        _folder("[Gmail]/Lixeira", "\\Trash"), _folder("[Gmail]/Spam", "\\JUNK"),
        _folder("Clientes"),
    ]  # fmt: skip
    names = [f.name for f in syncable_folders(folders)]
    assert names == ["INBOX", "[Gmail]/E-mails enviados", "Clientes"]
