"""Real server answers -> error code (the failed-LOGIN path) -> the explanation the user reads."""

from __future__ import annotations

import pytest
from imapclient.exceptions import LoginError

from dashboard.mail.imap_client import login_error
from dashboard.mail.net import ServerSettings
from dashboard.mailboxes.messages import explain

GMAIL = ServerSettings("imap.gmail.com", 993, "tls", "rep@acme.test", "abcdefghijklmnop")
DOVECOT = ServerSettings("mail.acme.test", 993, "tls", "rep@acme.test", "abcdefghijklmnop")
GOOGLE_APP_PASSWORDS = "https://myaccount.google.com/apppasswords"
GMAIL_IMAP_SETTINGS = "https://mail.google.com/mail/u/0/#settings/fwdandpop"

APP_PASSWORD_REQUIRED = (
    "[ALERT] Application-specific password required: "
    "https://support.google.com/accounts/answer/185833 (Failure)"
)
IMAP_DISABLED = (
    "[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page "
    "and enable your account for IMAP access. (Failure)"
)
GMAIL_INVALID = "[AUTHENTICATIONFAILED] Invalid credentials (Failure)"
DOVECOT_FAILED = "[AUTHENTICATIONFAILED] Authentication failed."


@pytest.fixture
def english(app):  # type: ignore[no-untyped-def]
    """A request context whose browser asks for English."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def failed_login(answer: str, settings: ServerSettings):  # type: ignore[no-untyped-def]
    """The ImapError a failed LOGIN gives: imapclient wraps imaplib's bytes answer."""
    return login_error(LoginError(str(answer.encode())), settings)


def explained(answer: str, settings: ServerSettings, provider: str):  # type: ignore[no-untyped-def]
    """Run a raw answer through the LOGIN path, then through the explanation table."""
    error = failed_login(answer, settings)
    return error, explain(error.code, host=error.host, port=error.port, provider=provider)


def test_gmail_app_password_required_gives_the_app_password_steps_and_link(english):
    error, why = explained(APP_PASSWORD_REQUIRED, GMAIL, "gmail")
    assert error.code == "app_password_required"
    assert why.message == (
        "The provider requires an app password: 2-step verification is on for this account, "
        "so your normal password is refused."
    )
    assert why.link == GOOGLE_APP_PASSWORDS
    assert why.link_label == "Create an app password"
    assert len(why.steps) == 4
    assert "2-Step Verification" in why.steps[1]
    assert "App passwords" in why.steps[2]


def test_gmail_imap_disabled_gives_the_enable_imap_steps(english):
    error, why = explained(IMAP_DISABLED, GMAIL, "gmail")
    assert error.code == "imap_disabled"
    assert why.message == "IMAP access is turned off for this mailbox."
    assert why.link == GMAIL_IMAP_SETTINGS
    assert any("Forwarding and POP/IMAP" in step for step in why.steps)
    assert any("Enable IMAP" in step for step in why.steps)


@pytest.mark.parametrize(
    ("answer", "settings", "provider", "link"),
    [
        (GMAIL_INVALID, GMAIL, "gmail", GOOGLE_APP_PASSWORDS),
        (DOVECOT_FAILED, DOVECOT, "other", None),
    ],
)
def test_invalid_credentials_say_wrong_address_or_app_password(
    english, answer, settings, provider, link
):
    error, why = explained(answer, settings, provider)
    assert error.code == "auth_failed"
    assert why.message == "The server refused the address or the app password."
    assert why.link == link
    assert any("full address" in step for step in why.steps)
    assert any("app password" in step for step in why.steps)


@pytest.mark.parametrize(
    "answer", [APP_PASSWORD_REQUIRED, IMAP_DISABLED, GMAIL_INVALID, DOVECOT_FAILED]
)
def test_the_raw_answer_is_kept_for_the_account_log(answer):
    assert failed_login(answer, GMAIL).raw == answer


def test_app_password_required_elsewhere_links_to_that_providers_page(english):
    why = explain("app_password_required", host="imap.mail.yahoo.com", port=993, provider="yahoo")
    assert why.link == "https://login.yahoo.com/myaccount/security/"
    assert why.steps == []  # the Google steps would mislead a Yahoo user


def test_imap_disabled_elsewhere_gives_a_generic_step(english):
    why = explain("imap_disabled", host="imap.example.com", port=993, provider="other")
    assert why.steps == ["Turn on IMAP access in your mail settings, then save here again."]
    assert why.link is None


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("tls_certificate", "security certificate"),
        ("tls_failed", "secure connection (TLS)"),
        ("connection_refused", "refused the connection"),
        ("dns_failed", "could not be found"),
        ("timeout", "did not answer within 20 seconds"),
    ],
)
def test_each_network_failure_has_its_own_message_naming_host_and_port(english, code, phrase):
    why = explain(code, host="mail.acme.test", port=1993, provider="other", seconds=20)
    assert phrase in why.message
    assert "mail.acme.test" in why.message
    assert "1993" in why.message, why.message


def test_network_messages_are_all_different(english):
    codes = ["tls_certificate", "tls_failed", "connection_refused", "dns_failed", "timeout"]
    messages = {explain(c, host="h.example", port=1, provider="other").message for c in codes}
    assert len(messages) == len(codes)


def test_connection_refused_message_reads_naturally(english):
    why = explain("connection_refused", host="mail.acme.test", port=1993, provider="other")
    assert why.message == (
        "mail.acme.test refused the connection on port 1993. Check the server name and port."
    )
    assert why.steps == [] and why.link is None


def test_an_unknown_code_still_gets_a_message(english):
    why = explain("protocol", host="h.example", port=1, provider="other")
    assert why.message == "The mail server answered with an unexpected error (protocol)."


def test_messages_follow_the_language_of_the_request(app):
    with app.test_request_context(headers={"Accept-Language": "pt-BR"}):
        portuguese = explain("auth_failed", host="h", port=1, provider="other").message
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = explain("auth_failed", host="h", port=1, provider="other").message
    assert english == "The server refused the address or the app password."
    assert isinstance(portuguese, str) and portuguese  # translated text, or the msgid for now
