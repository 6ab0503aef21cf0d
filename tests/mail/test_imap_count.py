"""Counting a mailbox before its first sync, against a real Dovecot."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from dashboard.mail.imap_client import ErrorCode, ImapError
from dashboard.mail.imap_count import MessageCount, count_messages
from dashboard.mail.net import ServerSettings
from tests.support.mailboxes import mail_on
from tests.support.servers.dovecot import MailboxUser
from tests.support.sync import SENT, CuttingRelay

ALL_MAIL = "[Gmail]/Todos os e-mails"


def settings_for(user: MailboxUser, port: int | None = None) -> ServerSettings:
    """IMAPS settings of a test user (through another local port when given)."""
    server = user.server
    return ServerSettings(
        server.host,
        port or server.port,
        "tls",
        user.address,
        user.password,
        server.ca_file,
        5.0,
        allow_local=True,  # the test server listens on 127.0.0.1
    )


def append_dated(user: MailboxUser, folder: str, days_ago: int) -> None:
    """A message that arrived `days_ago` days ago (its INTERNALDATE)."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    user.append(folder, mail_on(when, to=user.address, subject="x"), msg_time=when)


def test_counts_every_message_and_those_since_the_day(mailbox_user: MailboxUser) -> None:
    for folder, days_ago in [("INBOX", 1), ("INBOX", 10), ("INBOX", 45), (SENT, 3), (SENT, 90)]:
        append_dated(mailbox_user, folder, days_ago)
    since = dt.date.today() - dt.timedelta(days=30)
    count = count_messages(settings_for(mailbox_user), ["INBOX", SENT, ALL_MAIL], since, 10.0)
    assert count == MessageCount(total=5, recent=3)
    assert count.older == 2


def test_an_empty_mailbox_counts_nothing(mailbox_user: MailboxUser) -> None:
    count = count_messages(settings_for(mailbox_user), ["INBOX"], dt.date.today(), 10.0)
    assert (count.total, count.recent, count.older) == (0, 0, 0)


def test_a_stalled_server_fails_within_the_budget(mailbox_user: MailboxUser) -> None:
    relay = CuttingRelay(mailbox_user.server.port)
    relay.gate.clear()  # the server's greeting never gets through
    started = time.monotonic()
    try:
        with pytest.raises(ImapError) as caught:
            count_messages(settings_for(mailbox_user, relay.port), ["INBOX"], dt.date.today(), 1.0)
    finally:
        relay.gate.set()
        relay.close()
    assert caught.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - started < 3
