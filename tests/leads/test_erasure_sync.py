"""After an erasure the sync never brings the person back (real Dovecot): neither their old
messages, fetched again by a rescan, nor a new one; auto-creation would otherwise make them a
lead again."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dashboard.db.engine import read_session, write_session
from dashboard.db.scrub import scrub
from dashboard.leads.erasure import erase_lead
from dashboard.models import Email, Lead, LeadAddress, SkippedMessage, utcnow
from tests.support.lead_data import seq
from tests.support.sync import (
    STORED,
    MailMaker,
    append_mails,
    connect,
    make_lead,
    set_company,
    set_mailbox,
    simple_mail,
    sync,
)


@pytest.fixture
def app_config(dovecot_server):  # type: ignore[no-untyped-def]
    """The app trusts the test Dovecot's certificate."""
    return {"IMAP_CA_FILE": dovecot_server.ca_file}


@pytest.fixture
def erased(app, engine, admin, mailbox_user):  # type: ignore[no-untyped-def]
    """A lead's mail synced, then the lead erased; auto-creation on for everyone."""
    mailbox_id = connect(app, mailbox_user)
    set_company(engine, auto_create="all")
    n = seq()
    address, other = f"zelia{n}@quixabeira.test", f"otto{n}@cliente.test"
    lead_id = make_lead(engine, f"Zélia {n}", address)
    make_lead(engine, f"Otto {n}", other)
    maker, me = MailMaker(mailbox_user.address), mailbox_user.address
    alone = simple_mail(maker, "alone", sender=address, to=me, fate=STORED, body=f"Só {n}.\n")
    shared = maker.message("shared", sender=other, to=[me], cc=[address], fate=STORED, text="Oi\n")
    append_mails(mailbox_user, [alone, shared])
    assert sync(app, mailbox_id).totals()["stored"] == 2
    with write_session(engine) as session:
        erase_lead(session, session.get(Lead, lead_id), actor=None, now=utcnow())
    scrub(engine)
    return SimpleNamespace(mailbox_id=mailbox_id, address=address, maker=maker, me=me)


def traces_of(engine, address: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Where the address could have come back: leads, stored mail, the skip ledger."""
    with read_session(engine) as session:
        ledger = session.scalars(select(SkippedMessage)).all()
        return {
            "lead addresses": len(
                session.scalars(select(LeadAddress).where(LeadAddress.address == address)).all()
            ),
            "emails from": len(session.scalars(select(Email).where(Email.sender == address)).all()),
            "ledger rows": sum(address in (row.sender, *row.addresses) for row in ledger),
        }


def test_the_next_sync_does_not_bring_an_erased_person_back(app, engine, erased, mailbox_user):
    new = simple_mail(erased.maker, "new", sender=erased.address, to=erased.me, fate="never_log")
    append_mails(mailbox_user, [new])
    set_mailbox(engine, erased.mailbox_id, rescan_since=utcnow() - dt.timedelta(days=60))
    result = sync(app, erased.mailbox_id)
    assert result.totals()["skipped"].get("never_log", 0) == 2  # the old one and the new one
    assert traces_of(engine, erased.address) == {
        "lead addresses": 0, "emails from": 0, "ledger rows": 0,
    }  # fmt: skip
