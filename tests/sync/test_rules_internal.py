"""The internal-email rule, never-log list and direction, as tables of cases."""

import pytest

from dashboard.mail.addresses import fingerprint
from dashboard.sync.rules import (
    CompanyIdentity,
    NeverLogList,
    external_addresses,
    is_internal,
    is_outbound,
    looks_automated_address,
    only_never_logged_outsiders,
)

ACME = CompanyIdentity.build(
    ["acme.com", "acme.com.br"], ["ana.personal@gmail.com", "Bob@Partner.io"]
)


@pytest.mark.parametrize(
    ("participants", "internal"),
    [
        (["ana@acme.com", "bob@acme.com"], True),
        (["ANA@ACME.COM", "Bob <BOB@acme.com>"], True),  # case and "Name <addr>" forms
        (["ana@acme.com", "bob@acme.com.br"], True),  # several company domains
        (["ana@acme.com", "x@sub.acme.com"], False),  # subdomains are not the domain
        (["ana@acme.com", "joe@client.com"], False),
        (["ana+deals@acme.com", "bob@acme.com"], True),  # plus-addressing keeps the domain
        (["ana@acme.com"], True),  # empty To: only the sender, who is internal
        (["ana@acme.com", "ana.personal+crm@gmail.com"], True),  # a user's alias with a tag
        (["ana@acme.com", "ana.other@gmail.com"], False),  # same provider, not an alias
        (["ana@acme.com", "bob@partner.io"], True),  # alias matched case-insensitively
        (["ana@acme.com", "", "not-an-address"], True),  # junk entries are ignored
        ([], False),  # nothing known: not internal
        (["ana@acme.community"], False),  # a longer domain is not the domain
        (['"Acme, Sales" <sales@acme.com>', "ana@acme.com"], True),
    ],
)
def test_internal_only_rule(participants: list[str], internal: bool) -> None:
    assert is_internal(participants, ACME) is internal


def test_external_addresses_are_normalized_and_unique() -> None:
    got = external_addresses(["Ana <ana@acme.com>", "Joe <JOE@client.com>", "joe@client.com"], ACME)
    assert got == ["joe@client.com"]


@pytest.mark.parametrize(
    ("entries", "outsiders", "skipped"),
    [
        (["@gmail.com"], ["mom@gmail.com"], True),
        (["family.org"], ["dad@family.org"], True),
        (["family.org"], ["dad@family.org", "lead@client.com"], False),  # a real lead is there
        (["boss@client.com"], ["BOSS+x@client.com"], True),
        (["family.org"], ["dad@kids.family.org"], False),  # exact domains only
        (["@gmail.com"], [], False),  # no outsiders: that is the internal rule's business
    ],
)
def test_never_log_list(entries: list[str], outsiders: list[str], skipped: bool) -> None:
    assert only_never_logged_outsiders(outsiders, NeverLogList.build(entries)) is skipped


@pytest.mark.parametrize(
    ("outsider", "skipped"),
    [
        ("zelia@quixabeira.test", True),
        ("Zelia+crm@Quixabeira.test", True),  # the person, whatever the tag or case
        ("outra@quixabeira.test", False),  # a fingerprint names one address, not a domain
    ],
)
def test_never_log_list_recognises_an_erased_person_by_fingerprint(
    outsider: str, skipped: bool
) -> None:
    entries = [fingerprint("zelia@quixabeira.test")]
    assert entries[0].startswith("sha256:") and "zelia" not in entries[0]
    assert only_never_logged_outsiders([outsider], NeverLogList.build(entries)) is skipped


@pytest.mark.parametrize(
    ("address", "automated"),
    [
        ("no-reply@x.com", True),
        ("NoReply@x.com", True),
        ("mailer-daemon@x.com", True),
        ("postmaster@x.com", True),
        ("noreply+abc@x.com", True),
        ("notifications@github.com", True),
        ("ana@x.com", False),
        ("replying@x.com", False),
    ],
)
def test_automated_addresses(address: str, automated: bool) -> None:
    assert looks_automated_address(address) is automated


@pytest.mark.parametrize(
    ("sender", "owner", "outbound"),
    [
        ("rep@acme.com", ["rep@acme.com"], True),
        ("other@acme.com", ["rep@acme.com"], True),
        ("me@gmail.com", ["me@gmail.com"], True),
        ("lead@client.com", ["rep@acme.com"], False),
        ("Ana.Personal@gmail.com", ["rep@acme.com"], True),
    ],
)
def test_direction(sender: str, owner: list[str], outbound: bool) -> None:
    assert is_outbound(sender, owner, ACME) is outbound
