"""The regex lexer and the fused parser installed by dashboard.sync.imap_fetch read real
server answers exactly like imapclient's own lexer and parser do."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from imapclient import response_lexer, response_parser
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response, parse_response

from dashboard.mail import imap_fetch
from tests.support.sync import append_mails, realistic_mailbox


@contextmanager
def imapclient_originals():  # type: ignore[no-untyped-def]
    """imapclient's own lexer and parser, for the length of a with block."""
    try:
        response_lexer.Lexer.__iter__ = imap_fetch.ORIGINAL_LEXER_ITER
        response_parser.gen_parsed_response = imap_fetch.ORIGINAL_GEN_PARSED_RESPONSE
        yield
    finally:
        response_lexer.Lexer.__iter__ = imap_fetch.fast_lexer_iter
        response_parser.gen_parsed_response = imap_fetch.fast_gen_parsed_response


def both_ways(fetch):  # type: ignore[no-untyped-def]
    """Run a fetch with imapclient's lexer and parser, then with the fast ones."""
    with imapclient_originals():
        original = fetch()
    return original, fetch()


def outcome(parse, text):  # type: ignore[no-untyped-def]
    """What a parse returns, or the kind of error it raises."""
    try:
        return parse(text)
    except ProtocolError:
        return ProtocolError


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
    with imapclient_originals():
        original = list(response_lexer.TokenSource([text]))
        parsed = parse_response([text])
    assert fast == original
    assert parse_response([text]) == parsed


@pytest.mark.parametrize(
    "text",
    [
        [rb"1 (UID 7 FLAGS () RFC822.SIZE 0123 X 0 Y 10)"],
        [(rb"2 (UID 8 BODY[HEADER.FIELDS (DATE)] {5}", b"Date:"), rb")"],
        [(rb"3 (UID 9 ENVELOPE (NIL {3}", b"abc"), rb' NIL NIL NIL NIL NIL NIL NIL "<i>"))'],
        [rb'4 (UID 10 X ("NIL" NIL "" "12" %))'],
        [rb") NIL ("],  # stray closer, then a tuple that never ends
        [(rb"5 (UID 11 BODY[1] {9}", b"short"), rb")"],  # literal shorter than announced
        [(rb"6 (UID 12 BODY[1] NIL", b"x"), rb")"],  # a literal without its marker
        [rb"7 (UID {x})"],
    ],
)
def test_the_fused_parser_answers_like_imapclient(text) -> None:  # type: ignore[no-untyped-def]
    for parse in (parse_response, lambda t: dict(parse_fetch_response(t, False, True))):
        fast = outcome(parse, text)
        with imapclient_originals():
            original = outcome(parse, text)
        assert fast == original


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
