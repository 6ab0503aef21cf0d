"""The admins' console as plain data: counts per mailbox and reason, accounted-for messages,
the rounds chart, the health rule, sorting (unhealthy first), and no query per mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session

from dashboard.db.engine import read_session, write_session
from dashboard.mailboxes import console
from dashboard.mailboxes.health import health
from dashboard.models import Email, FolderCursor, Mailbox, Sighting, SkippedMessage, SyncRun, User
from dashboard.states import MailboxStatus
from tests.support import factories

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def add_mailbox(session: Session, user: User, status: str = MailboxStatus.CONNECTED) -> Mailbox:
    """A mailbox syncing INBOX and Sent (secret None once disconnected)."""
    box = Mailbox(
        user_id=user.id, provider="other", address=user.email, username=user.email,
        imap_host="127.0.0.1", imap_port=993, imap_security="tls", folders=["INBOX", "Sent"],
        secret=None if status == MailboxStatus.DISCONNECTED else b"token", status=status,
    )  # fmt: skip
    session.add(box)
    session.flush()
    for folder in ("INBOX", "Sent"):
        session.add(FolderCursor(mailbox_id=box.id, folder=folder, uidvalidity=7))
    return box


def store(session: Session, box: Mailbox, *places: tuple[str, int]) -> None:
    """One email seen at these (folder, uidvalidity) places of the mailbox."""
    n = factories.next_number()
    email = Email(message_id=f"<c{n}@t>", sender="x@client.test", thread_key=f"k{n}",
                  date=T0, direction="in")  # fmt: skip
    session.add(email)
    session.flush()
    for folder, validity in places:
        session.add(Sighting(email_id=email.id, mailbox_id=box.id, folder=folder,
                             uidvalidity=validity, uid=factories.next_number()))  # fmt: skip


def skip(session: Session, box: Mailbox, reason: str, folder: str = "INBOX", mid: str = "") -> None:
    """A ledger row (same `mid`: the same message seen in another folder)."""
    session.add(SkippedMessage(mailbox_id=box.id, folder=folder, uidvalidity=7,
                               uid=factories.next_number(), message_id=mid, sender="y@z.test",
                               reason=reason))  # fmt: skip


@pytest.fixture
def team(engine, admin):  # type: ignore[no-untyped-def]
    """Five reps: working (with mail), needs reconnect, error, disconnected, never connected."""
    names = ("Ana", "Bia", "Caio", "Davi", "Eva")
    people = {name: factories.make_user(engine, name=name) for name in names}
    with write_session(engine) as session:
        ana = add_mailbox(session, people["Ana"])
        store(session, ana, ("INBOX", 7))
        store(session, ana, ("INBOX", 7), ("Sent", 7))  # one email, two folders
        store(session, ana, ("INBOX", 3))  # seen before INBOX's UIDVALIDITY changed
        skip(session, ana, "no_lead", "INBOX", "<a@t>")
        skip(session, ana, "no_lead", "Sent", "<a@t>")  # the same message again
        skip(session, ana, "parse_error")
        for fetched, error in ((10, None), (0, "auth"), (5, None)):
            session.add(SyncRun(mailbox_id=ana.id, fetched=fetched, error_code=error))
        add_mailbox(session, people["Bia"], MailboxStatus.NEEDS_RECONNECT)
        add_mailbox(session, people["Caio"], MailboxStatus.ERROR)
        add_mailbox(session, people["Davi"], MailboxStatus.DISCONNECTED)
    return people


def rows_by_name(engine, counts=lambda box, first: None) -> dict[str, console.ConsoleRow]:  # type: ignore[no-untyped-def]
    """The console rows, by owner name."""
    with read_session(engine) as session:
        return {row.owner.name: row for row in console.team_rows(session, counts)}


def test_counts_per_mailbox_and_reason_each_message_once(engine, team):
    rows = rows_by_name(engine)
    ana = rows["Ana"]
    assert (ana.stored, ana.skipped) == (3, {"no_lead": 1, "parse_error": 1})
    assert rows["Bia"].stored == 0 and rows["Bia"].skipped == {}
    assert rows["Eva"].mailbox is None and rows["Eva"].status == console.NOT_CONNECTED
    assert rows["Davi"].status == MailboxStatus.DISCONNECTED


def test_accounted_for_counts_every_place_in_the_synced_folders_at_their_uidvalidity(engine, team):
    # 3 sightings at UIDVALIDITY 7 (INBOX twice, Sent once) + 3 ledger rows; the old one is gone
    assert rows_by_name(engine)["Ana"].accounted == 6


def test_health_compares_with_the_kept_server_count_only(engine, team):
    rows = rows_by_name(engine, lambda box, first: 8 if box.address.startswith("rep") else None)
    ana = rows["Ana"]
    assert ana.health == health(6, 8, importing=True)  # never synced successfully yet
    assert rows_by_name(engine)["Ana"].health.state == "unchecked"


@pytest.mark.parametrize(
    ("accounted", "on_server", "importing", "state"),
    [
        (5, None, False, "unchecked"),
        (5, 5, False, "complete"),
        (5, 5, True, "complete"),
        (3, 5, True, "importing"),
        (3, 5, False, "missing"),
        (7, 5, False, "extra"),
    ],
)
def test_health_rule(accounted, on_server, importing, state):
    assert health(accounted, on_server, importing).state == state


def test_the_chart_scales_rounds_to_the_busiest_and_marks_failures(engine, team):
    rounds = rows_by_name(engine)["Ana"].rounds
    assert [(r.fetched, r.height, r.failed) for r in rounds] == [
        (10, 100, False),
        (0, 4, True),
        (5, 50, False),
    ]


def test_only_the_newest_rounds_are_charted(engine, team):
    with write_session(engine) as session:
        box_id = rows_by_name(engine)["Ana"].mailbox.id
        for fetched in range(console.ROUNDS_SHOWN + 3):
            session.add(SyncRun(mailbox_id=box_id, fetched=100 + fetched))
    rounds = rows_by_name(engine)["Ana"].rounds
    assert len(rounds) == console.ROUNDS_SHOWN
    assert rounds[-1].fetched == 100 + console.ROUNDS_SHOWN + 2  # newest last


def test_unhealthy_first_by_default(engine, team, admin):
    rows = console.sorted_rows(list(rows_by_name(engine).values()), "health", False)
    names = [row.owner.name for row in rows]
    assert names == ["Bia", "Caio", "Davi", admin.name, "Eva", "Ana"]


def test_sorting_by_a_column_and_backwards(engine, team, admin):
    rows = list(rows_by_name(engine).values())
    by_stored = console.sorted_rows(rows, "stored", True)
    assert by_stored[0].owner.name == "Ana"
    by_owner = [r.owner.name for r in console.sorted_rows(rows, "owner", False)]
    assert by_owner == sorted(by_owner, key=str.lower)
    assert console.sorted_rows(rows, "no-such-column", False) == console.sorted_rows(
        rows, "health", False
    )


def test_one_query_per_column_family_however_many_mailboxes(engine, team):
    def statements() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            rows_by_name(engine)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    before = statements()
    more = [factories.make_user(engine) for _ in range(5)]
    with write_session(engine) as session:
        for user in more:
            box = add_mailbox(session, session.get(User, user.id))
            store(session, box, ("INBOX", 7))
            skip(session, box, "automated")
            session.add(SyncRun(mailbox_id=box.id, fetched=1, started_at=T0 - timedelta(hours=1)))
    assert statements() == before
