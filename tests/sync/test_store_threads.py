"""Threads in the store, with plain parsed data (Gmail's thread ids cannot come from Dovecot)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select

from dashboard.db.engine import read_session, write_session
from dashboard.mail.fingerprint import content_fingerprint
from dashboard.mail.parse import Address, MessageMeta
from dashboard.models import Email, EmailLead, Lead, LeadAddress, Mailbox
from dashboard.sync.rules import Decision
from dashboard.sync.store.batch import BatchPlace, ToStore
from dashboard.sync.store.commit import commit_batch
from tests.support.lead_data import lead_data


def meta(
    uid: int,
    message_id: str,
    *,
    sender: str,
    to: str,
    in_reply_to: str | None = None,
    references: tuple[str, ...] | None = None,
    gm_thrid: int | None = None,
) -> MessageMeta:
    """A parsed message as the engine hands it to the store (References: In-Reply-To alone
    unless given)."""
    return MessageMeta(
        uid=uid,
        message_id=message_id,
        synthetic_id=False,
        fingerprint=content_fingerprint(datetime(2026, 1, uid, tzinfo=UTC), "Proposta"),
        subject="Proposta",
        date=datetime(2026, 1, uid, tzinfo=UTC),
        from_=(Address("", sender),),
        to=(Address("", to),),
        cc=(),
        bcc=(),
        reply_to=(),
        in_reply_to=in_reply_to,
        references=(in_reply_to,) if references is None and in_reply_to else references or (),
        size=100,
        flags=(),
        text_parts=(),
        html_parts=(),
        attachments=(),
        automated=False,
        gm_msgid=gm_thrid and gm_thrid + uid,
        gm_thrid=gm_thrid,
        problems=(),
    )


def store(engine, mailbox_id: int, user_id: int, *metas: MessageMeta, outbound: bool) -> None:  # type: ignore[no-untyped-def]
    """Commit one batch linking every message to the lead at lead@client.test."""
    decision = Decision(True, None, outbound, ("lead@client.test",))
    with write_session(engine) as session:
        commit_batch(
            session,
            BatchPlace(mailbox_id, user_id, "INBOX", 1),
            [ToStore(m, decision) for m in metas],
            [],
            last_uid=max(m.uid for m in metas),
            lead_state="active",
        )


def lead_and_mailbox(engine, rep) -> tuple[Lead, Mailbox]:  # type: ignore[no-untyped-def]
    """The lead at lead@client.test and the rep's mailbox."""
    with lead_data(engine) as data:
        lead = data.lead(name="Lead", addresses=["lead@client.test"])
        box = data.session.get(Mailbox, data.mailbox(rep))
    return lead, box


def test_a_smart_email_joins_gmails_thread_when_gmail_shows_its_copy(engine, rep) -> None:  # type: ignore[no-untyped-def]
    lead, box = lead_and_mailbox(engine, rep)
    with write_session(engine) as session:
        session.add(
            Email(
                message_id="<smart@acme.test>",
                sender=rep.email,
                # The headers it was sent with: those Gmail's copy (UID 2 below) shows.
                fingerprint=content_fingerprint(datetime(2026, 1, 2, tzinfo=UTC), "Proposta"),
                thread_key="<smart@acme.test>",
                subject="Proposta",
                date=datetime(2026, 1, 2, tzinfo=UTC),
                direction="out",
                origin="smart",
                user_id=rep.id,
            )
        )
    store(
        engine,
        box.id,
        rep.id,
        meta(2, "<smart@acme.test>", sender=rep.email, to="lead@client.test", gm_thrid=77),
        outbound=True,
    )
    store(
        engine,
        box.id,
        rep.id,
        meta(
            3,
            "<reply@client.test>",
            sender="lead@client.test",
            to=rep.email,
            in_reply_to="<smart@acme.test>",
            gm_thrid=77,
        ),
        outbound=False,
    )
    with read_session(engine) as session:
        keys = dict(session.execute(select(Email.message_id, Email.thread_key)).all())
        count = len(session.scalars(select(Email.id)).all())
    assert count == 2  # the Gmail copy is the same email, not a second one
    assert keys == {"<smart@acme.test>": "gm:77", "<reply@client.test>": "gm:77"}


def test_a_parent_stored_after_its_reply_pulls_the_reply_into_its_thread(engine, rep) -> None:  # type: ignore[no-untyped-def]
    lead, box = lead_and_mailbox(engine, rep)
    store(
        engine,
        box.id,
        rep.id,
        meta(2, "<child@x>", sender="lead@client.test", to=rep.email, in_reply_to="<root@x>"),
        outbound=False,
    )
    store(
        engine,
        box.id,
        rep.id,
        meta(3, "<root@x>", sender=rep.email, to="lead@client.test"),
        outbound=True,
    )
    with read_session(engine) as session:
        keys = set(session.scalars(select(Email.thread_key)).all())
    assert keys == {"<root@x>"}


def test_a_reply_joins_its_parents_thread_when_the_root_is_in_another(engine, rep) -> None:  # type: ignore[no-untyped-def]
    """In-Reply-To beats References: the parent was stored in a thread of its own (its
    References were lost), so the root's and the parent's threads differ."""
    lead, box = lead_and_mailbox(engine, rep)
    root = meta(2, "<root@x>", sender=rep.email, to="lead@client.test")
    parent = meta(3, "<parent@x>", sender="lead@client.test", to=rep.email, references=())
    store(engine, box.id, rep.id, root, outbound=True)
    store(engine, box.id, rep.id, parent, outbound=False)
    reply = meta(
        4,
        "<reply@x>",
        sender=rep.email,
        to="lead@client.test",
        in_reply_to="<parent@x>",
        references=("<root@x>", "<parent@x>"),
    )
    store(engine, box.id, rep.id, reply, outbound=True)
    with read_session(engine) as session:
        keys = dict(session.execute(select(Email.message_id, Email.thread_key)).all())
    assert keys["<reply@x>"] == keys["<parent@x>"] == "<parent@x>"
    assert keys["<root@x>"] == "<root@x>"


def test_a_lead_replying_to_a_smart_email_notifies_its_rep(engine, rep) -> None:  # type: ignore[no-untyped-def]
    from dashboard.models import Notification, OutgoingEmail

    lead, box = lead_and_mailbox(engine, rep)
    with write_session(engine) as session:
        session.add(
            OutgoingEmail(
                user_id=rep.id,
                lead_id=lead.id,
                message_id="<ls.1@acme.test>",
                to_addrs=["lead@client.test"],
                state="sent",
            )
        )
    store(
        engine,
        box.id,
        rep.id,
        meta(
            4,
            "<answer@client.test>",
            sender="lead@client.test",
            to=rep.email,
            in_reply_to="<ls.1@acme.test>",
        ),
        outbound=False,
    )
    with read_session(engine) as session:
        notes = session.scalars(select(Notification)).all()
    assert [(n.kind, n.user_id, n.lead_id, n.detail) for n in notes] == [
        ("reply", rep.id, lead.id, "lead@client.test")
    ]


def test_a_reply_seen_in_two_folders_or_twice_in_a_batch_notifies_once(engine, rep) -> None:  # type: ignore[no-untyped-def]
    """Gmail shows a reply in the inbox and in "All Mail": one reply, one notification."""
    from dashboard.models import Notification, OutgoingEmail

    lead, box = lead_and_mailbox(engine, rep)
    with write_session(engine) as session:
        session.add(
            OutgoingEmail(
                user_id=rep.id, lead_id=lead.id, message_id="<ls.2@acme.test>",
                to_addrs=["lead@client.test"], state="sent",
            )
        )  # fmt: skip
    reply = dict(sender="lead@client.test", to=rep.email, in_reply_to="<ls.2@acme.test>")
    decision = Decision(True, None, False, ("lead@client.test",))
    twice = [ToStore(meta(5, "<again@client.test>", **reply), decision)] * 2
    with write_session(engine) as session:
        commit_batch(
            session, BatchPlace(box.id, rep.id, "INBOX", 1), twice, [], last_uid=5,
            lead_state="active",
        )  # fmt: skip
    commit_one(
        engine,
        box,
        "[Gmail]/Todos os e-mails",
        ToStore(replace(meta(5, "<again@client.test>", **reply), uid=9), decision),
    )
    with read_session(engine) as session:
        notes = session.scalars(select(Notification)).all()
    assert [(n.kind, n.detail) for n in notes] == [("reply", "lead@client.test")]


def commit_one(engine, box, folder: str, item: ToStore, promised=frozenset()):  # type: ignore[no-untyped-def]
    """Commit a batch of one message from a folder of the rep's mailbox."""
    with write_session(engine) as session:
        return commit_batch(
            session,
            BatchPlace(box.id, box.user_id, folder, 1),
            [item],
            [],
            last_uid=item.meta.uid,
            lead_state="active",
            promised=promised,
        )


def test_a_lead_promised_by_the_other_lane_is_created_by_whichever_commits_first(
    engine, rep
) -> None:  # type: ignore[no-untyped-def]
    """Sent classifies a first email to new@client.test (a new lead) and INBOX then
    classifies the reply as linked to it, but INBOX commits first: the reply creates the
    lead, the sent email finds it, and both are linked to one lead."""
    _lead, box = lead_and_mailbox(engine, rep)
    promised = frozenset({"new@client.test"})
    reply = meta(2, "<reply@client.test>", sender="new@client.test", to=rep.email)
    first = meta(1, "<first@acme.test>", sender=rep.email, to="new@client.test")
    linked_to_it = Decision(True, None, False, ("new@client.test",))
    creates_it = Decision(True, None, True, (), ("new@client.test",))
    inbox = commit_one(engine, box, "INBOX", ToStore(reply, linked_to_it), promised)
    sent = commit_one(engine, box, "Sent", ToStore(first, creates_it), promised)
    assert (inbox.leads_created, sent.leads_created) == (1, 0)
    with read_session(engine) as session:
        owners = session.scalars(
            select(LeadAddress.lead_id).where(LeadAddress.address == "new@client.test")
        ).all()
        assert len(owners) == 1
        linked = session.scalars(
            select(Email.message_id)
            .join(EmailLead, EmailLead.email_id == Email.id)
            .where(EmailLead.lead_id == owners[0])
            .order_by(Email.message_id)
        ).all()
    assert linked == ["<first@acme.test>", "<reply@client.test>"]


def test_an_unpromised_lead_that_is_gone_is_not_created_again(engine, rep) -> None:  # type: ignore[no-untyped-def]
    """A lead deleted while the round ran is not brought back by a message linked to it."""
    _lead, box = lead_and_mailbox(engine, rep)
    reply = meta(2, "<late@client.test>", sender="gone@client.test", to=rep.email)
    linked_to_it = Decision(True, None, False, ("gone@client.test",))
    assert commit_one(engine, box, "INBOX", ToStore(reply, linked_to_it)).leads_created == 0
    with read_session(engine) as session:
        assert not session.scalars(
            select(LeadAddress).where(LeadAddress.address == "gone@client.test")
        ).all()
