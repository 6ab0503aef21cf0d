"""Smart emails through the web: compose on the lead page, send off the request, watch the
state, retry a failure, and tracking endpoints that count only real recipients."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.db.engine import read_session, write_session
from dashboard.models import Email, EmailTemplate, Notification, OutgoingEmail, TrackingEvent
from tests.support import factories
from tests.support.clients import log_in
from tests.support.leads import HTMX
from tests.support.sending import connect_smtp, form_fields, make_lead, tracked_paths

PUBLIC = "https://leadsync.example.com"


@pytest.fixture
def app_config(smtp_server, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test SMTP server's CA; tracking needs a public URL; English labels."""
    return {"IMAP_CA_FILE": smtp_server.ca_file, "PUBLIC_URL": PUBLIC, "LANGUAGES": ("en", "pt_BR")}


@pytest.fixture
def rep_setup(app, engine, rep, smtp_server):  # type: ignore[no-untyped-def]
    """A rep with a connected sending mailbox, a lead and a template; logged in."""
    connect_smtp(app, rep, smtp_server)
    lead, address = make_lead(engine, "Joana Silva", "Cliente SA")
    with write_session(engine) as session:
        session.add(
            EmailTemplate(
                name="Follow-up",
                subject="Olá {{ first_name }}",
                body="Oi {{ first_name }}, tudo bem na {{ company }}? "
                "Veja https://example.org/proposta\n\n{{ rep_name }}",
            )
        )
    return log_in(app.test_client(), rep.email), lead, address


def send(client, lead, address, **extra):  # type: ignore[no-untyped-def]
    """Post the compose form like the lead page does (HTMX)."""
    data = {"to": address, "cc": "", "bcc": "", "subject": "", "body": "", **extra}
    return client.post(f"/leads/{lead.id}/compose", data=data, headers=HTMX)


def wait_sent(app) -> None:  # type: ignore[no-untyped-def]
    """Let the delivery threads finish."""
    app.extensions["leadsync.send_queue"].wait(timeout=30)


def test_compose_with_a_template_sends_through_the_reps_mailbox(
    app, engine, rep_setup, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    client, lead, address = rep_setup
    with read_session(engine) as session:
        template = session.scalar(select(EmailTemplate))
    blank = form_fields(client.get(f"/leads/{lead.id}/compose", headers=HTMX).data.decode())
    picked = client.post(
        f"/leads/{lead.id}/compose/template", data={**blank, "template": template.id}, headers=HTMX
    )
    fields = form_fields(picked.data.decode())
    assert fields["subject"] == "Olá {{ first_name }}"
    response = client.post(f"/leads/{lead.id}/compose", data=fields, headers=HTMX)
    assert response.status_code == 200
    assert "sending" in response.data.decode() or "sent" in response.data.decode()
    wait_sent(app)
    outgoing_id = int(re.search(r'id="outgoing-(\d+)"', response.data.decode()).group(1))
    status = client.get(f"/outgoing/{outgoing_id}?poll=1", headers={"HX-Request": "true"})
    assert status.status_code == 286  # settled: the status stops polling
    assert "sent" in status.data.decode()
    received = smtp_server.messages[-1]
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert message["Subject"] == "Olá Joana"
    html = message.get_body(("html",)).get_content()
    assert f"{PUBLIC}/t/o/" in html and f"{PUBLIC}/t/c/" in html
    assert "Cliente SA" in message.get_body(("plain",)).get_content()
    with read_session(engine) as session:
        stored = session.scalar(select(Email).where(Email.message_id == message["Message-ID"]))
    assert stored is not None and stored.origin == "smart" and stored.direction == "out"
    page = client.get(f"/leads/{lead.id}").data.decode()
    assert "Olá Joana" in page  # on the timeline at once


def test_a_failed_send_keeps_the_draft_and_retry_sends_it(app, engine, rep, smtp_server) -> None:  # type: ignore[no-untyped-def]
    mailbox_id = connect_smtp(app, rep, smtp_server, password="wrong-password-x")
    lead, address = make_lead(engine, "Rui Costa")
    client = log_in(app.test_client(), rep.email)
    response = send(client, lead, address, subject="Proposta", body="Segue a proposta.")
    wait_sent(app)
    outgoing_id = int(re.search(r'id="outgoing-(\d+)"', response.data.decode()).group(1))
    status = client.get(f"/outgoing/{outgoing_id}", headers={"HX-Request": "true"}).data.decode()
    assert "failed" in status and "app password" in status and "Try again" in status
    assert client.get(f"/leads/{lead.id}").data.decode().count(f'id="outgoing-{outgoing_id}"') == 1
    from dashboard.models import Mailbox

    with write_session(engine) as session:  # the rep fixes the password
        session.get(Mailbox, mailbox_id).secret = app.extensions["leadsync.secrets"].encrypt(
            smtp_server.password
        )
    retried = client.post(f"/outgoing/{outgoing_id}/retry", headers={"HX-Request": "true"})
    assert retried.status_code == 200
    wait_sent(app)
    with read_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
    assert outgoing.state == "sent" and outgoing.body.startswith("Segue a proposta.")
    assert len(smtp_server.messages) == 1


def tracked_urls(smtp_server) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The pixel and the first click URL of the last message, as app paths."""
    return tracked_paths(smtp_server, PUBLIC)


def test_opens_and_clicks_are_counted_for_recipients_only(
    app, engine, rep_setup, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    client, lead, address = rep_setup
    send(client, lead, address, subject="Oi", body="Veja https://example.org/a")
    wait_sent(app)
    pixel, click = tracked_urls(smtp_server)
    outsider = app.test_client()
    gif = outsider.get(pixel)
    assert gif.status_code == 200 and gif.mimetype == "image/gif"
    assert gif.headers["Cache-Control"].startswith("no-store")
    assert client.get(pixel).status_code == 200  # the sender's own browser: not counted
    followed = outsider.get(click)
    assert followed.status_code == 302 and followed.headers["Location"] == "https://example.org/a"
    with read_session(engine) as session:
        kinds = dict(
            session.execute(
                select(TrackingEvent.kind, func.count()).group_by(TrackingEvent.kind)
            ).all()
        )
        notes = session.scalar(select(func.count()).select_from(Notification))
    assert kinds == {"open": 1, "click": 1}
    assert notes == 2
    panel = client.get("/notifications", headers={"HX-Request": "true"}).data.decode()
    assert "opened your email" in panel and "clicked a link" in panel


def test_tampered_tokens_and_open_redirects_get_404(app, rep_setup, smtp_server) -> None:  # type: ignore[no-untyped-def]
    client, lead, address = rep_setup
    send(client, lead, address, subject="Oi", body="https://example.org/b")
    wait_sent(app)
    pixel, click = tracked_urls(smtp_server)
    outsider = app.test_client()
    assert outsider.get(click[:-3] + "abc").status_code == 404
    assert (
        outsider.get(click + "?next=https://evil.example").headers.get("Location")
        == "https://example.org/b"
    )
    assert outsider.get("/t/c/https://evil.example").status_code == 404
    tampered = outsider.get(pixel.replace("/t/o/", "/t/o/x"))
    assert tampered.status_code == 200 and tampered.mimetype == "image/gif"  # reveals nothing


def test_tracking_is_impossible_without_a_public_url(app, engine, rep, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app.config["PUBLIC_URL"] = None
    connect_smtp(app, rep, smtp_server)
    lead, address = make_lead(engine, "Ana Lima")
    client = log_in(app.test_client(), rep.email)
    send(client, lead, address, subject="Sem rastreio", body="https://example.org/c")
    wait_sent(app)
    html = (
        email.message_from_bytes(smtp_server.messages[-1].content, policy=email.policy.default)
        .get_body(("html",))
        .get_content()
    )
    assert "/t/o/" not in html and "/t/c/" not in html
    assert "https://example.org/c" in html


def test_a_rep_cannot_see_someone_elses_outgoing_email(app, engine, rep_setup, smtp_server) -> None:  # type: ignore[no-untyped-def]
    client, lead, address = rep_setup
    response = send(client, lead, address, subject="Oi", body="Olá")
    wait_sent(app)
    outgoing_id = int(re.search(r'id="outgoing-(\d+)"', response.data.decode()).group(1))
    other = factories.make_user(engine)
    stranger = log_in(app.test_client(), other.email)
    assert stranger.get(f"/outgoing/{outgoing_id}").status_code == 404
    assert stranger.post(f"/outgoing/{outgoing_id}/retry").status_code == 404
