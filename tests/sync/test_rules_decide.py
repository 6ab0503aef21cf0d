"""Which messages are stored and which leads they link to: a table per policy."""

import pytest

from dashboard.sync.rules import (
    CompanyIdentity,
    MessageFacts,
    NeverLogList,
    SyncPolicy,
    decide,
)

ACME = CompanyIdentity.build(["acme.com"], ["rep@acme.com", "rep.personal@gmail.com"])
OWNER = ["rep@acme.com", "rep.personal@gmail.com"]
LEADS = {"lead@client.com", "boss@client.com"}


def policy(**changes) -> SyncPolicy:
    base = {"company": ACME, "never_log": NeverLogList.build(["@family.org", "spam@x.com"])}
    return SyncPolicy(**{**base, **changes})


def facts(
    sender: str,
    *recipients: str,
    bcc: tuple[str, ...] = (),
    automated: bool = False,
    size: int = 1000,
) -> MessageFacts:
    return MessageFacts(sender, tuple(recipients), bcc, automated, size)


@pytest.mark.parametrize(
    ("message", "settings", "store", "reason", "leads", "new"),
    [
        # known lead, either direction
        (facts("rep@acme.com", "Lead@Client.com"), {}, True, None, ("lead@client.com",), ()),
        (facts("lead@client.com", "rep@acme.com"), {}, True, None, ("lead@client.com",), ()),
        # internal-only mail: skipped when the switch is on, otherwise still needs a lead
        (facts("rep@acme.com", "boss@acme.com"), {}, False, "internal", (), ()),
        (
            facts("rep@acme.com", "boss@acme.com"),
            {"skip_internal": False, "auto_create": "never"},
            False,
            "no_lead",
            (),
            (),
        ),
        # never-log: only never-log outsiders -> skipped; mixed with a lead -> stored, lead only
        (facts("rep@acme.com", "mom@family.org"), {}, False, "never_log", (), ()),
        (
            facts("rep@acme.com", "mom@family.org", "lead@client.com"),
            {},
            True,
            None,
            ("lead@client.com",),
            (),
        ),
        # auto-creation: "sent" creates from outbound only
        (facts("rep@acme.com", "new@prospect.com"), {}, True, None, (), ("new@prospect.com",)),
        (facts("new@prospect.com", "rep@acme.com"), {}, False, "no_lead", (), ()),
        (
            facts("new@prospect.com", "rep@acme.com"),
            {"auto_create": "all"},
            True,
            None,
            (),
            ("new@prospect.com",),
        ),
        (
            facts("rep@acme.com", "new@prospect.com"),
            {"auto_create": "never"},
            False,
            "no_lead",
            (),
            (),
        ),
        (
            facts("rep@acme.com", "new@prospect.com"),
            {"auto_create": "suggest"},
            True,
            None,
            (),
            ("new@prospect.com",),
        ),
        # inbound "all": only the sender becomes a lead, not everyone in Cc
        (
            facts("new@prospect.com", "rep@acme.com", "cc@other.com"),
            {"auto_create": "all"},
            True,
            None,
            (),
            ("new@prospect.com",),
        ),
        # automated senders never become leads
        (
            facts("no-reply@shop.com", "rep@acme.com"),
            {"auto_create": "all"},
            False,
            "automated",
            (),
            (),
        ),
        (
            facts("news@shop.com", "rep@acme.com", automated=True),
            {"auto_create": "all"},
            False,
            "automated",
            (),
            (),
        ),
        (facts("rep@acme.com", "noreply@shop.com"), {}, False, "no_lead", (), ()),
        # a newsletter from a known lead is still that lead's mail
        (
            facts("lead@client.com", "rep@acme.com", automated=True),
            {},
            True,
            None,
            ("lead@client.com",),
            (),
        ),
        # Bcc counts on mail we send, not on mail we receive
        (
            facts("rep@acme.com", "rep@acme.com", bcc=("boss@client.com",)),
            {},
            True,
            None,
            ("boss@client.com",),
            (),
        ),
        # a personal alias counts as the company: outbound
        (
            facts("rep.personal@gmail.com", "lead@client.com"),
            {},
            True,
            None,
            ("lead@client.com",),
            (),
        ),
        # too large
        (facts("lead@client.com", "rep@acme.com", size=10**9), {}, False, "too_large", (), ()),
    ],
)
def test_decide(message, settings, store, reason, leads, new) -> None:
    decision = decide(message, OWNER, LEADS, policy(**settings))
    assert (decision.store, decision.reason) == (store, reason)
    assert decision.lead_addresses == leads
    assert decision.new_lead_addresses == new


def test_no_lead_skip_keeps_the_outsiders_for_retroactive_linking() -> None:
    decision = decide(
        facts("stranger@x.org", "rep@acme.com", "mom@family.org"), OWNER, LEADS, policy()
    )
    assert decision.reason == "no_lead"
    assert decision.outsiders == ("stranger@x.org",)


def test_direction_is_outbound_for_company_senders() -> None:
    assert decide(facts("rep@acme.com", "lead@client.com"), OWNER, LEADS, policy()).outbound
    assert not decide(facts("lead@client.com", "rep@acme.com"), OWNER, LEADS, policy()).outbound
