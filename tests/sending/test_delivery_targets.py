"""Smart emails leave only through an SMTP server at an allowed address
(dashboard/mail/targets.py): the company's "servers on the local network" setting holds for
sending too, and a refused send keeps the draft for a retry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashboard.db.engine import read_session, write_session
from dashboard.models import OutgoingEmail
from dashboard.sending.delivery import deliver, retry
from dashboard.sending.outgoing import create_outgoing
from tests.support.sending import connect_smtp, make_lead
from tests.support.sync import set_company

if TYPE_CHECKING:
    from tests.support.servers.smtp import SmtpServer

pytest_plugins = ["tests.support.servers.smtp"]


def test_a_server_on_the_local_network_is_refused_until_the_company_allows_it(
    app, engine, rep, smtp_server: SmtpServer
):  # type: ignore[no-untyped-def]
    set_company(engine, allow_local_servers=False)
    lead, address = make_lead(engine, "Bruno Lima")
    connect_smtp(app, rep, smtp_server)
    with write_session(engine) as session:
        outgoing_id = create_outgoing(
            session, user=rep, lead=lead, to=[address], cc=[], bcc=[], subject="Proposta",
            body="Olá!", reply_to_email=None, template=None, tracking=False, public_url=None,
        ).id  # fmt: skip
    box = app.extensions["leadsync.secrets"]
    options = {"ca_file": smtp_server.ca_file, "public_url": None, "secret_key": app.secret_key}

    deliver(engine, outgoing_id, box, **options)

    with read_session(engine) as session:
        failed = session.get(OutgoingEmail, outgoing_id)
    assert (failed.state, failed.error_code) == ("failed", "local_address")
    assert smtp_server.messages == []

    set_company(engine, allow_local_servers=True)
    assert retry(engine, outgoing_id, box, **options) is True
    with read_session(engine) as session:
        assert session.get(OutgoingEmail, outgoing_id).state == "sent"
    assert len(smtp_server.messages) == 1
