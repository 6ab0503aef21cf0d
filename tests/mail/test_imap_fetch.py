"""The regex lexer and the fused parser that dashboard.mail.imap_fetch.install() puts in
imapclient read real server answers exactly like imapclient's own lexer and parser do; and
only install() puts them there, importing the module does not."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from imapclient import response_lexer, response_parser
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response, parse_response

from dashboard.mail import imap_fetch
from tests.support.sync import append_mails, realistic_mailbox

PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def parsers(*, fast: bool) -> Iterator[None]:
    """imapclient with the fast lexer and parser (by install()) or its own, for a with block."""
    saved = response_lexer.Lexer.__iter__, response_parser.gen_parsed_response
    try:
        if fast:
            imap_fetch.install()
        else:
            response_lexer.Lexer.__iter__ = imap_fetch.ORIGINAL_LEXER_ITER
            response_parser.gen_parsed_response = imap_fetch.ORIGINAL_GEN_PARSED_RESPONSE
        yield
    finally:
        response_lexer.Lexer.__iter__, response_parser.gen_parsed_response = saved


def both_ways(fetch):  # type: ignore[no-untyped-def]
    """Run a fetch with imapclient's lexer and parser, then with the fast ones."""
    with parsers(fast=False):
        original = fetch()
    with parsers(fast=True):
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
    original, fast = both_ways(lambda: list(response_lexer.TokenSource([text])))
    assert fast == original
    original, fast = both_ways(lambda: parse_response([text]))
    assert fast == original


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
        original, fast = both_ways(lambda parse=parse: outcome(parse, text))
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


IMPORT_THEN_INSTALL = """
import json
from imapclient import response_lexer, response_parser
theirs = response_lexer.Lexer.__iter__, response_parser.gen_parsed_response
import dashboard, dashboard.sync.runner  # the app and the whole sync import imap_fetch
from dashboard.mail import imap_fetch
ours = imap_fetch.fast_lexer_iter, imap_fetch.fast_gen_parsed_response
def state():
    now = response_lexer.Lexer.__iter__, response_parser.gen_parsed_response
    return "imapclient" if now == theirs else "fast" if now == ours else repr(now)
seen = [state()]
imap_fetch.install()
seen.append(state())
imap_fetch.install()
seen.append(state())
kept = (imap_fetch.ORIGINAL_LEXER_ITER, imap_fetch.ORIGINAL_GEN_PARSED_RESPONSE) == theirs
print(json.dumps({"seen": seen, "originals_kept": kept}))
"""


def test_importing_changes_nothing_in_imapclient_until_install() -> None:
    # A fresh interpreter: this test process may have installed the fast parser already.
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_THEN_INSTALL],
        cwd=PROJECT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == {
        "seen": ["imapclient", "fast", "fast"],
        "originals_kept": True,
    }
