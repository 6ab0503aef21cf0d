"""The content fingerprint: every copy of one message has the same one, different messages
sharing a Message-ID and sender have different ones (table tests, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboard.mail.fingerprint import content_fingerprint
from dashboard.mail.parse import RawAddress, RawEnvelope, RawFetch, meta_from_fetch

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BRASILIA = timezone(timedelta(hours=-3))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((NOON, "Proposta"), (NOON.astimezone(BRASILIA), "Proposta")),  # one instant
        ((NOON, "Proposta"), (NOON.replace(tzinfo=None), "Proposta")),  # naive is UTC
        ((NOON, "Proposta"), (NOON.replace(microsecond=500), "Proposta")),
        ((NOON, "Proposta comercial"), (NOON, " Proposta\r\n  comercial ")),  # re-folded
        ((NOON, "Proposta comercial"), (NOON, "PROPOSTA Comercial")),
        ((NOON, "Olá mundo"), (NOON, "Olá\x00 mundo")),  # NULs are stripped everywhere
        ((None, "Sem data"), (None, "Sem data")),
    ],
)
def test_copies_of_one_message_share_the_fingerprint(a, b) -> None:  # type: ignore[no-untyped-def]
    assert content_fingerprint(*a) == content_fingerprint(*b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((NOON, "Proposta"), (NOON + timedelta(seconds=1), "Proposta")),
        ((NOON, "Proposta"), (NOON, "Re: Proposta")),
        ((NOON, "Proposta"), (None, "Proposta")),
        ((NOON, ""), (None, "")),
    ],
)
def test_different_messages_have_different_fingerprints(a, b) -> None:  # type: ignore[no-untyped-def]
    assert content_fingerprint(*a) != content_fingerprint(*b)


def fetch(date: bytes | None, *, internal: datetime, size: int, uid: int = 1) -> RawFetch:
    """One lean FETCH of the same headers, as a folder or server holds its copy."""
    envelope = RawEnvelope(
        date=date, subject=b"=?utf-8?Q?Or=C3=A7amento?= aprovado",
        from_=(RawAddress(b"Cliente", b"cliente", b"cliente.com.br"),), sender=(), reply_to=(),
        to=(), cc=(), bcc=(), in_reply_to=None, message_id=b"<same@cliente.com.br>",
    )  # fmt: skip
    structure = (b"text", b"plain", None, None, None, b"7bit", size)
    return RawFetch(uid, envelope, structure, b"", size, internal)


def test_the_fingerprint_ignores_what_differs_between_copies() -> None:
    """INBOX, All Mail and a teammate's server: other UIDs, arrival times, sizes."""
    date = b"Mon, 2 Mar 2026 09:00:00 -0300"
    copies = [
        fetch(date, internal=NOON, size=900, uid=7),
        fetch(date, internal=NOON + timedelta(hours=5), size=1432, uid=90),
    ]
    assert len({meta_from_fetch(c).fingerprint for c in copies}) == 1
    other = fetch(b"Mon, 2 Mar 2026 09:00:01 -0300", internal=NOON, size=900)
    assert meta_from_fetch(other).fingerprint != meta_from_fetch(copies[0]).fingerprint


def test_a_date_in_the_future_gives_the_same_fingerprint_before_and_after_it() -> None:
    """The page shows INTERNALDATE for a Date too far ahead; the identity must not change
    once that day comes (a copy seen later would become a second email)."""
    raw = fetch(b"Sat, 1 Jan 2050 00:00:00 +0000", internal=NOON, size=10)
    today, later = datetime(2026, 3, 2, tzinfo=UTC), datetime(2050, 1, 1, 1, tzinfo=UTC)
    first, second = meta_from_fetch(raw, now=today), meta_from_fetch(raw, now=later)
    assert first.date != second.date  # shown differently...
    assert first.fingerprint == second.fingerprint  # ...the same email
