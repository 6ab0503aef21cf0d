"""Sending through a real aiosmtpd server: the message it receives, and every failure code."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from dashboard.mail import smtp_client
from dashboard.mail.smtp_client import SendError, SmtpSettings
from dashboard.sending import compose
from dashboard.sending.compose import TrackingPlan
from tests.support.factories import next_number
from tests.support.servers.dovecot import free_port

if TYPE_CHECKING:  # imported by pytest as a plugin, so its asserts are rewritten
    from tests.support.servers.smtp import SmtpServer

pytest_plugins = ["tests.support.servers.smtp"]

PUBLIC = "https://leadsync.example.com"


def settings_for(server: SmtpServer, **overrides: object) -> SmtpSettings:
    """Settings that reach the test server and trust its CA."""
    values: dict = {
        "host": server.host, "port": server.port, "security": server.security,
        "username": server.username, "password": server.password,
        "ca_file": server.ca_file, "timeout": 10.0,
        "allow_local": True,  # the test server listens on 127.0.0.1
    }  # fmt: skip
    values.update(overrides)
    return SmtpSettings(**values)


def composed(sender: str, **overrides: object) -> EmailMessage:
    """A message from `sender` to one lead, one Cc and one Bcc."""
    n = next_number()
    values: dict = {
        "from_name": "Rep Sênior", "from_addr": sender, "to": [f"ana{n}@cliente.test"],
        "cc": [f"bruno{n}@cliente.test"], "bcc": [f"chefe{n}@acme.test"],
        "subject": "Proposta", "message_id": compose.make_message_id("acme.test"),
        "body": "Olá **Ana**,\n\nveja https://cliente.test/preco?a=1&b=2.\n\n*Abraço*",
        "in_reply_to": None, "references": [], "tracking": None,
    }  # fmt: skip
    values.update(overrides)
    return compose.build_message(**values)


def recipients_of(message: EmailMessage, bcc: list[str]) -> list[str]:
    """Envelope recipients: To, Cc and the Bcc that is in no header."""
    headers = [*message.get_all("To", []), *message.get_all("Cc", [])]
    return [a for _name, a in email.utils.getaddresses(headers)] + bcc


def send_to(server: SmtpServer, message: EmailMessage, bcc: list[str] | None = None) -> dict:
    """Send a message through the server with the right credentials."""
    return smtp_client.send(
        settings_for(server), message, from_addr=server.username,
        recipients=recipients_of(message, bcc or []),
    )  # fmt: skip


def received(server: SmtpServer) -> email.message.EmailMessage:
    """The only message the server accepted, parsed."""
    assert len(server.messages) == 1
    return email.message_from_bytes(server.messages[0].content, policy=email.policy.default)


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    """The decoded text/plain and text/html parts."""
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def failure(call: Callable[[], object]) -> SendError:
    """The SendError a call raises."""
    with pytest.raises(SendError) as caught:
        call()
    return caught.value


def send_failure(settings: SmtpSettings) -> SendError:
    """The SendError of sending a small message with these settings."""
    message = composed("rep@acme.test")
    return failure(
        lambda: smtp_client.send(
            settings, message, from_addr="rep@acme.test", recipients=["ana@cliente.test"]
        )
    )


def test_message_arrives_with_headers_both_parts_and_bcc_only_in_envelope(smtp_server):
    message = composed(smtp_server.username)
    bcc = ["chefe@acme.test"]
    assert send_to(smtp_server, message, bcc) == {}

    got, envelope = received(smtp_server), smtp_server.messages[0]
    assert got["From"].addresses[0].addr_spec == smtp_server.username
    assert got["From"].addresses[0].display_name == "Rep Sênior"
    assert got["To"] == message["To"] and got["Cc"] == message["Cc"]
    assert "Bcc" not in got and b"chefe@acme.test" not in envelope.content
    assert got["Subject"] == "Proposta" and got["Date"]
    assert got["Message-ID"] == message["Message-ID"]
    assert got["Message-ID"].startswith("<ls.") and got["Message-ID"].endswith("@acme.test>")
    assert got.get_content_type() == "multipart/alternative"
    assert envelope.mail_from == smtp_server.username
    assert envelope.rcpt_tos == tuple(recipients_of(message, bcc))
    text, html = parts(got)
    assert "Olá **Ana**," in text and "https://cliente.test/preco?a=1&b=2." in text
    assert "<strong>Ana</strong>" in html and "<em>Abraço</em>" in html
    assert '<a href="https://cliente.test/preco?a=1&amp;b=2">' in html
    assert "/t/o/" not in html and "<img" not in html


def test_reply_threads_and_never_doubles_the_prefix(smtp_server):
    replied, earlier = "<orig-1@cliente.test>", "<orig-0@cliente.test>"
    message = composed(
        smtp_server.username, subject="RE: Proposta", in_reply_to=replied,
        references=[earlier, replied],
    )  # fmt: skip
    send_to(smtp_server, message)

    got = received(smtp_server)
    assert got["Subject"] == "RE: Proposta"
    assert got["In-Reply-To"] == replied
    assert got["References"].split() == [earlier, replied]
    assert compose.reply_subject("Proposta") == "Re: Proposta"
    assert compose.reply_subject("Re: Re: x") == "Re: Re: x"
    assert compose.reply_subject("RES: Orçamento") == "RES: Orçamento"


def test_tracking_adds_pixel_and_rewrites_html_links_only(smtp_server):
    link = "https://cliente.test/preco?a=1&b=2"
    plan = TrackingPlan(f"{PUBLIC}/t/o/OPEN.gif", {link: f"{PUBLIC}/t/c/CLICK"})
    send_to(smtp_server, composed(smtp_server.username, tracking=plan))

    text, html = parts(received(smtp_server))
    assert html.rstrip().endswith(
        f'<img src="{PUBLIC}/t/o/OPEN.gif" width="1" height="1" alt=""></body></html>'
    )
    assert f'<a href="{PUBLIC}/t/c/CLICK">{link.replace("&", "&amp;")}</a>' in html
    assert 'href="https://cliente.test' not in html
    assert link in text and PUBLIC not in text


def test_starttls_server_is_reached_after_upgrade(make_smtp_server):
    server = make_smtp_server(security="starttls")
    send_to(server, composed(server.username))
    assert received(server)["Subject"] == "Proposta"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_plain_smtp_is_allowed_on_loopback_only(make_smtp_server):
    server = make_smtp_server(security="none")
    send_to(server, composed(server.username))
    assert len(server.messages) == 1

    remote = settings_for(server, host="smtp.example.com")
    error = send_failure(remote)
    assert error.code == "tls_failed" and "non-loopback" in error.detail


def test_wrong_password_is_auth_failed_and_never_reveals_it(smtp_server):
    wrong = "wrong-secret-Zx81"
    settings = settings_for(smtp_server, password=wrong)

    error = send_failure(settings)

    assert error.code == "auth_failed" and "535" in error.detail
    cause = error.__cause__
    exposed = [str(error), repr(error), error.detail, repr(settings), repr(cause), str(cause)]
    assert all(wrong not in text and smtp_server.password not in text for text in exposed)
    assert smtp_server.messages == []


def test_refused_recipient_is_relay_refused(make_smtp_server):
    server = make_smtp_server(refuse=("ninguem@fora.test",))
    message = composed(server.username, to=["ninguem@fora.test"], cc=[])

    error = failure(lambda: send_to(server, message))

    assert error.code == "relay_refused"
    assert "ninguem@fora.test" in error.detail and "550" in error.detail


def test_partly_refused_recipients_are_reported_but_the_message_leaves(make_smtp_server):
    server = make_smtp_server(refuse=("ninguem@fora.test",))
    message = composed(server.username, cc=["ninguem@fora.test"])

    refused = send_to(server, message)

    assert list(refused) == ["ninguem@fora.test"] and refused["ninguem@fora.test"].startswith("550")
    assert len(server.messages) == 1 and "ninguem@fora.test" not in server.messages[0].rcpt_tos


def test_message_over_the_size_limit_is_too_large(make_smtp_server):
    server = make_smtp_server(data_size_limit=2000)
    message = composed(server.username, body="texto longo " * 400)

    error = failure(lambda: send_to(server, message))

    assert error.code == "too_large" and "552" in error.detail
    assert server.messages == []


def test_closed_port_is_connection_refused(smtp_server):
    settings = settings_for(smtp_server, port=free_port())
    error = send_failure(settings)
    assert error.code == "connection_refused"


def test_tls_without_the_test_ca_is_tls_certificate(smtp_server):
    settings = settings_for(smtp_server, ca_file=None)
    error = send_failure(settings)
    assert error.code == "tls_certificate"
    assert smtp_server.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_against_a_server_without_it_is_tls_failed(make_smtp_server):
    server = make_smtp_server(security="none")
    settings = settings_for(server, security="starttls")
    error = send_failure(settings)
    assert error.code == "tls_failed"
    assert server.messages == []


def test_verify_login_logs_in_and_sends_nothing(make_smtp_server):
    for security in ("tls", "starttls"):
        server = make_smtp_server(security=security)
        smtp_client.verify_login(settings_for(server))
        assert server.messages == []


def test_verify_login_with_tls_on_a_starttls_port_is_tls_failed(make_smtp_server):
    server = make_smtp_server(security="starttls")
    error = failure(lambda: smtp_client.verify_login(settings_for(server, security="tls")))
    assert error.code == "tls_failed"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"password": "wrong-secret-Zx81"}, "auth_failed"),
        ({"username": "outra@acme.test"}, "auth_failed"),
        ({"port": "closed"}, "connection_refused"),
        ({"ca_file": None}, "tls_certificate"),
        ({"host": "smtp.invalid"}, "dns_failed"),
    ],
)
def test_verify_login_fails_with_the_code_of_what_is_wrong(smtp_server, change, code):
    if change.get("port") == "closed":
        change = {"port": free_port()}
    settings = settings_for(smtp_server, timeout=2.0, **change)

    error = failure(lambda: smtp_client.verify_login(settings))

    assert error.code == code
    assert f"{settings.host}:{settings.port}" in error.detail
    exposed = [str(error), repr(error), error.detail, repr(error.__cause__)]
    assert all(smtp_server.password not in text for text in exposed)
    assert "wrong-secret-Zx81" not in " ".join(exposed)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (smtplib.SMTPAuthenticationError(534, b"5.7.9 App password required"), "auth_failed"),
        (smtplib.SMTPSenderRefused(530, b"5.7.0 Authentication Required", "a@b"), "auth_failed"),
        (smtplib.SMTPSenderRefused(552, b"5.3.4 Message size exceeds", "a@b"), "too_large"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender rejected", "a@b"), "sender_refused"),
        (smtplib.SMTPDataError(552, b"5.3.4 Message too big"), "too_large"),
        (smtplib.SMTPDataError(554, b"5.7.0 Message rejected"), "relay_refused"),
        (smtplib.SMTPDataError(451, b"4.3.0 Temporary failure"), "unknown"),
        (smtplib.SMTPRecipientsRefused({"x@y.z": (550, b"no")}), "relay_refused"),
        (smtplib.SMTPConnectError(421, b"too many connections"), "network"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "network"),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), "tls_failed"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "tls_certificate"),
        (ssl.SSLError("wrong version number"), "tls_failed"),
        (ConnectionRefusedError(111, "Connection refused"), "connection_refused"),
        (socket.gaierror(-2, "Name or service not known"), "dns_failed"),
        (TimeoutError("timed out"), "timeout"),
        (ConnectionResetError(104, "reset"), "network"),
    ],
)
def test_smtp_failures_map_to_stable_codes(exc, code):
    assert smtp_client.classify(exc)[0] == code


def test_placeholders_are_plain_values_never_template_code():
    text = "Oi {{first_name}}, da {{  company }}! {{ rep_name}} {{ unknown }} {{ 7*7 }}"
    values = {"first_name": "{{ company }}", "company": "<b>Acme</b>", "rep_name": "Rep"}
    rendered = compose.merge_fields(text, values)
    assert rendered == "Oi {{ company }}, da <b>Acme</b>! Rep {{ unknown }} {{ 7*7 }}"


def test_simple_format_escapes_html_and_links_only_http():
    body = (
        "<script>alert(1)</script> **negrito** e *itálico*\n"
        "linha 2 (https://a.test/x_(y)).\n\n"
        '"javascript:alert(1)" 2*3*4'
    )
    html = compose.simple_format_to_html(body)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>negrito</strong>" in html and "<em>itálico</em>" in html
    assert '<a href="https://a.test/x_(y)">https://a.test/x_(y)</a>).' in html
    assert "<br>" in html and html.count("<p>") == 2
    assert "javascript" not in html.split("href=")[-1].split(">")[0]
    assert "2*3*4" in html
    assert compose.find_links(body) == ["https://a.test/x_(y)"]
