"""The regex lexer installed by dashboard.sync.imap_fetch reads real server answers exactly
like imapclient's own lexer does."""

from __future__ import annotations

import pytest
from imapclient import response_lexer
from imapclient.response_parser import parse_response

from dashboard.sync import imap_fetch
from tests.sync_helpers import append_mails, realistic_mailbox


def both_ways(fetch):  # type: ignore[no-untyped-def]
    """Run a fetch with the original lexer, then with the fast one."""
    try:
        response_lexer.Lexer.__iter__ = imap_fetch.ORIGINAL_LEXER_ITER
        original = fetch()
    finally:
        response_lexer.Lexer.__iter__ = imap_fetch.fast_lexer_iter
    return original, fetch()


@pytest.mark.parametrize(
    "text",
    [
        rb"(FLAGS (\Seen $Forwarded) UID 7 BODY[HEADER.FIELDS (DATE FROM)] NIL)",
        rb'("quoted \"inner\" and \\ backslash" NIL "" atom [sec tion])',
        rb'(ENVELOPE ("Mon, 1 Jan 2024 10:00:00 -0300" "=?UTF-8?Q?Or=C3=A7amento?=" '
        rb'(("Ana" NIL "ana" "acme.com")) NIL NIL NIL NIL NIL NIL "<a@b>"))',
        rb'(BODY[1.2.MIME] "x" RFC822.SIZE 42 INTERNALDATE "01-Jan-2024 10:00:00 +0000")',
    ],
)
def test_tokens_match_the_original_lexer(text: bytes) -> None:
    fast = list(response_lexer.TokenSource([text]))
    try:
        response_lexer.Lexer.__iter__ = imap_fetch.ORIGINAL_LEXER_ITER
        original = list(response_lexer.TokenSource([text]))
    finally:
        response_lexer.Lexer.__iter__ = imap_fetch.fast_lexer_iter
    assert fast == original
    assert parse_response([text]) is not None


def test_a_realistic_mailbox_fetches_the_same_with_both_lexers(mailbox_user) -> None:  # type: ignore[no-untyped-def]
    scenario = realistic_mailbox(mailbox_user.address)
    append_mails(mailbox_user, scenario.mails)
    with mailbox_user.connect() as client:
        client.normalise_times = False
        for folder in ("INBOX", "[Gmail]/E-mails enviados"):
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            original, fast = both_ways(lambda uids=uids: client.fetch(uids, imap_fetch.LEAN_FETCH))
            assert fast == original
            sections = both_ways(
                lambda uids=uids: client.fetch(uids, ["BODY.PEEK[1]", "BODY.PEEK[TEXT]"])
            )
            assert sections[0] == sections[1]
