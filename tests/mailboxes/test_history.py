"""Disconnecting with or without the synced history, against a real Dovecot: what each choice
deletes and keeps, and reconnecting afterwards imports no duplicate."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from dashboard.db.engine import read_session, write_session
from dashboard.mailboxes import history
from dashboard.mailboxes.service import ConnectionRequest, connect_mailbox, disconnect_mailbox
from dashboard.models import (
    AuditEvent,
    Email,
    FolderCursor,
    Lead,
    LeadAddress,
    Mailbox,
    OutgoingEmail,
    Sighting,
    SkippedMessage,
    TrackingEvent,
    User,
)
from dashboard.states import LeadSource, Origin
from tests.support.clients import log_in
from tests.support.mailboxes import english_client
from tests.support.servers.dovecot import new_user
from tests.support.sync import SENT, connect, make_lead, plain_email, sync
from tests.support.tables import changed_tables, orphans, table_counts


@pytest.fixture
def app_config(dovecot_server) -> dict:  # type: ignore[no-untyped-def]
    """Trust the test server's CA."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


def count(engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    """Rows of a table, optionally filtered."""
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def mailbox(engine, mailbox_id: int) -> Mailbox:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return session.get(Mailbox, mailbox_id)


def disconnect(engine, mailbox_id: int, **choice: bool) -> history.HistoryRemoval | None:  # type: ignore[no-untyped-def]
    """Disconnect from the command line (no actor), with the given history choice."""
    with write_session(engine) as session:
        return disconnect_mailbox(session, session.get(Mailbox, mailbox_id), None, **choice)


def reconnect(app, user) -> None:  # type: ignore[no-untyped-def]
    """Connect the same Dovecot user again, as its owner would."""
    engine = app.extensions["leadsync.engine"]
    server = user.server
    request = ConnectionRequest(
        "other", user.address, user.password, "", server.host, server.port, "tls"
    )
    with app.app_context(), write_session(engine) as session:
        owner = session.scalars(select(User).where(User.email == user.address)).one()
        connect_mailbox(
            session, user=owner, request=request, box=app.extensions["leadsync.secrets"],
            ca_file=server.ca_file, timeout=10.0,
        )  # fmt: skip


@pytest.fixture
def two_mailboxes(app, engine, admin, dovecot_server):  # type: ignore[no-untyped-def]
    """Rep A and rep B, synced once. A sent a proposal to a new prospect (the sync creates
    its lead) and one to a known client; B received the same message to the client (one
    email, seen by both); A has an outsider's message (the skip ledger)."""
    rep_a, rep_b = new_user(dovecot_server), new_user(dovecot_server)
    make_lead(engine, "Cliente Conhecido", "cliente@known.test")
    only_a = plain_email(rep_a.address, "novo@prospect.test", "Proposta só da A")
    shared = plain_email(rep_a.address, f"cliente@known.test, {rep_b.address}", "Proposta dividida")
    rep_a.append(SENT, only_a)
    rep_a.append(SENT, shared)
    rep_a.append("INBOX", plain_email("alguem@outsider.test", rep_a.address, "Sem lead"))
    rep_b.append("INBOX", shared)
    ids = connect(app, rep_a), connect(app, rep_b)
    for mailbox_id in ids:
        assert sync(app, mailbox_id).error_code is None
    return rep_a, rep_b, ids


def test_the_preview_counts_what_goes_and_what_stays(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    with read_session(engine) as session:
        plan = history.preview(session, session.get(Mailbox, a_id))
    assert plan.emails_only_here == 1
    assert plan.emails_shared == 1
    assert plan.skipped == 1
    assert len(plan.emptied_leads) == 1
    with read_session(engine) as session:
        lead = session.get(Lead, plan.emptied_leads[0].id)
        assert lead.source == LeadSource.SYNC
        assert (
            session.scalar(select(LeadAddress.address).where(LeadAddress.lead_id == lead.id))
            == "novo@prospect.test"
        )


def test_removing_deletes_only_what_this_mailbox_brought(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, b_id) = two_mailboxes
    removal = disconnect(engine, a_id, remove_history=True)
    assert removal is not None and removal.emails_only_here == 1
    assert not mailbox(engine, a_id).connected
    with read_session(engine) as session:
        subjects = set(session.scalars(select(Email.subject)))
    assert subjects == {"Proposta dividida"}  # B still saw it
    assert count(engine, Sighting, Sighting.mailbox_id == a_id) == 0
    assert count(engine, Sighting, Sighting.mailbox_id == b_id) == 1
    assert count(engine, SkippedMessage, SkippedMessage.mailbox_id == a_id) == 0
    assert count(engine, FolderCursor, FolderCursor.mailbox_id == a_id) == 0
    # Not asked to: the lead the sync created stays, now without emails.
    with read_session(engine) as session:
        prospect = session.scalars(
            select(Lead).join(LeadAddress).where(LeadAddress.address == "novo@prospect.test")
        ).one()
        client = session.scalars(
            select(Lead).join(LeadAddress).where(LeadAddress.address == "cliente@known.test")
        ).one()
        assert (prospect.email_count, client.email_count) == (0, 1)  # stats refreshed
        audit = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert audit.action == "mailboxes.disconnect"
    assert audit.changes["history"] == "removed" and audit.changes["emails"] == 1


def test_emptied_leads_go_only_when_asked_and_manual_leads_never(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    manual = make_lead(engine, "Criado à mão", "novo2@prospect.test")
    removal = disconnect(engine, a_id, remove_history=True, remove_emptied_leads=True)
    assert removal is not None and len(removal.emptied_leads) == 1
    with read_session(engine) as session:
        addresses = set(session.scalars(select(LeadAddress.address)))
        assert session.get(Lead, manual) is not None
    assert "novo@prospect.test" not in addresses
    assert {"cliente@known.test", "novo2@prospect.test"} <= addresses


def test_reconnecting_after_removal_imports_again_without_duplicates(app, engine, two_mailboxes):
    rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    disconnect(engine, a_id, remove_history=True)
    reconnect(app, rep_a)
    assert sync(app, a_id).error_code is None
    with read_session(engine) as session:
        subjects = sorted(session.scalars(select(Email.subject)))
    assert subjects == ["Proposta dividida", "Proposta só da A"]
    assert count(engine, Sighting) == 3  # A: two, B: one
    assert count(engine, SkippedMessage, SkippedMessage.mailbox_id == a_id) == 1


def test_keeping_the_history_keeps_everything_and_resumes(app, engine, two_mailboxes):
    rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    before = count(engine, Email), count(engine, Sighting), count(engine, SkippedMessage)
    assert disconnect(engine, a_id) is None
    assert (count(engine, Email), count(engine, Sighting), count(engine, SkippedMessage)) == before
    rep_a.append(SENT, plain_email(rep_a.address, "cliente@known.test", "Depois de voltar"))
    reconnect(app, rep_a)
    result = sync(app, a_id)
    assert result.error_code is None
    assert count(engine, Email) == before[0] + 1  # only the new one
    assert count(engine, Sighting) == before[1] + 1


def test_smart_emails_sent_through_the_mailbox_go_with_their_tracking(app, engine, two_mailboxes):
    rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    with write_session(engine) as session:
        owner = session.scalars(select(User).where(User.email == rep_a.address)).one()
        email = Email(
            message_id="<smart-1@leadsync.test>", sender=rep_a.address, thread_key="t-smart",
            date=session.scalar(select(func.max(Email.date))), direction="outbound",
            origin=Origin.SMART, user_id=owner.id, subject="Smart",
        )  # fmt: skip
        session.add(email)
        session.flush()
        outgoing = OutgoingEmail(
            user_id=owner.id, message_id=email.message_id, email_id=email.id, state="sent"
        )
        session.add(outgoing)
        session.flush()
        session.add(TrackingEvent(outgoing_id=outgoing.id, recipient="x@known.test", kind="open"))
    with read_session(engine) as session:
        assert history.preview(session, session.get(Mailbox, a_id)).emails_only_here == 2
    disconnect(engine, a_id, remove_history=True)
    assert count(engine, Email, Email.origin == Origin.SMART) == 0
    assert count(engine, OutgoingEmail) == 0
    assert count(engine, TrackingEvent) == 0


def test_the_command_line_removes_the_history_with_its_counts(app, engine, two_mailboxes):
    rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["accounts", "disconnect", rep_a.address, "--remove-history", "--remove-emptied-leads"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Disconnected {rep_a.address} and removed its history: 1 emails seen only through it "
        "deleted, 1 also seen by other mailboxes kept, 1 skip-ledger rows deleted, "
        "1 emptied leads deleted.\n"
    )
    assert count(engine, Sighting, Sighting.mailbox_id == a_id) == 0
    # Already disconnected: removing what is left (nothing) still works; keeping refuses.
    again = runner.invoke(args=["accounts", "disconnect", rep_a.address, "--remove-history"])
    assert again.exit_code == 0 and "0 emails seen only through it" in again.output
    keep = runner.invoke(args=["accounts", "disconnect", rep_a.address])
    assert keep.exit_code != 0


# --- the dialog ----------------------------------------------------------------------------


def owner_of(engine, mailbox_id: int) -> User:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return session.get(User, session.get(Mailbox, mailbox_id).user_id)


def test_a_rep_may_only_keep_the_history(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    rep = english_client(app, owner_of(engine, a_id).email)
    page = rep.get("/settings/mailbox/disconnect")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="keep"' in html and 'value="remove"' not in html
    assert "Only an administrator can remove the synced emails." in html
    forged = rep.post("/settings/mailbox/disconnect", data={"history": "remove"})
    assert forged.status_code == 403
    assert mailbox(engine, a_id).connected and count(engine, Sighting, Sighting.mailbox_id == a_id)
    kept = rep.post("/settings/mailbox/disconnect", data={"history": "keep"})
    assert kept.status_code == 302
    assert not mailbox(engine, a_id).connected
    assert count(engine, Sighting, Sighting.mailbox_id == a_id) == 2
    assert rep.get("/settings/mailbox/disconnect").status_code == 302  # nothing left to do


def test_the_admin_sees_the_counts_and_removes_a_reps_history(app, engine, admin, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    url = f"/settings/team-mailboxes/{owner_of(engine, a_id).id}/disconnect"
    client = english_client(app, admin.email)
    html = client.get(url).get_data(as_text=True)
    assert "1 email seen only in this mailbox will be deleted" in html
    assert "1 also seen by other mailboxes stays" in html
    assert "1 entry of the skipped-messages record is deleted" in html
    assert "Also delete 1 lead the sync created that would be left without emails" in html
    assert "novo" in html  # the emptied lead, by name
    response = client.post(url, data={"history": "remove", "remove_emptied_leads": "y"})
    assert response.status_code == 302
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Mailbox disconnected and its history removed: 1 email deleted." in flashed
    assert count(engine, Email) == 1
    with read_session(engine) as session:
        assert "novo@prospect.test" not in set(session.scalars(select(LeadAddress.address)))


def test_a_kept_history_can_be_removed_later_by_an_admin(app, engine, admin, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    disconnect(engine, a_id)
    url = f"/settings/team-mailboxes/{owner_of(engine, a_id).id}/disconnect"
    client = english_client(app, admin.email)
    html = client.get(url).get_data(as_text=True)
    assert "Remove the history of" in html and 'value="keep"' not in html
    assert client.post(url, data={"history": "keep"}).status_code == 422  # nothing to keep
    assert client.post(url, data={"history": "remove"}).status_code == 302
    assert count(engine, Sighting, Sighting.mailbox_id == a_id) == 0


def test_the_dialog_is_in_portuguese_by_default(app, engine, admin, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    client = log_in(app.test_client(), admin.email)
    html = client.get(f"/settings/team-mailboxes/{owner_of(engine, a_id).id}/disconnect")
    text = html.get_data(as_text=True)
    assert "1 e-mail visto só nesta caixa será apagado" in text
    assert "Manter os e-mails sincronizados" in text


FTS_SHADOWS = ("email_fts_", "lead_trgm_", "lead_words_")  # their page counts vary by merge


def plain_tables(counts: dict[str, int]) -> dict[str, int]:
    """The counts without the full-text indexes' own storage."""
    return {name: n for name, n in counts.items() if not name.startswith(FTS_SHADOWS)}


def test_every_table_before_and_after_a_removal_and_no_orphans(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    before = plain_tables(table_counts(engine))
    disconnect(engine, a_id, remove_history=True, remove_emptied_leads=True)
    after = plain_tables(table_counts(engine))
    assert changed_tables(before, after) == {
        "email": 1, "emaillead": 1, "sighting": 2, "skippedmessage": 1, "skippedaddress": 1,
        "foldercursor": 2, "lead": 1, "leadaddress": 1,
        "mailboxevent": -1, "auditevent": -1,  # the disconnect's own records
    }  # fmt: skip
    assert orphans(engine) == []


def test_every_table_after_keeping_the_history(app, engine, two_mailboxes):
    _rep_a, _rep_b, (a_id, _b_id) = two_mailboxes
    before = plain_tables(table_counts(engine))
    disconnect(engine, a_id)
    after = plain_tables(table_counts(engine))
    assert changed_tables(before, after) == {"mailboxevent": -1, "auditevent": -1}
    assert orphans(engine) == []
