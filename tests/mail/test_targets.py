"""Which server addresses LeadSync may connect to (dashboard/mail/targets.py)."""

from __future__ import annotations

import ipaddress

import pytest

from dashboard.mail.targets import Reach, RefusedAddress, choose_addresses, classify, resolve


@pytest.mark.parametrize(
    ("address", "reach"),
    [
        # public
        ("142.250.1.108", Reach.PUBLIC), ("8.8.8.8", Reach.PUBLIC),
        ("2607:f8b0:4003:c00::6c", Reach.PUBLIC),
        # the local network and this machine: allowed by the company setting only
        ("127.0.0.1", Reach.LOCAL), ("127.8.9.10", Reach.LOCAL), ("::1", Reach.LOCAL),
        ("10.1.2.3", Reach.LOCAL), ("172.16.0.1", Reach.LOCAL), ("172.31.255.254", Reach.LOCAL),
        ("192.168.1.10", Reach.LOCAL), ("100.64.0.1", Reach.LOCAL), ("fd12:3456::1", Reach.LOCAL),
        ("172.32.0.1", Reach.PUBLIC),  # just past 172.16/12
        # link-local and metadata: never
        ("169.254.169.254", Reach.FORBIDDEN), ("169.254.1.1", Reach.FORBIDDEN),
        ("fe80::1", Reach.FORBIDDEN), ("fd00:ec2::254", Reach.FORBIDDEN),
        ("100.100.100.200", Reach.FORBIDDEN),
        # unspecified, "this network", multicast, reserved, broadcast, documentation
        ("0.0.0.0", Reach.FORBIDDEN), ("0.1.2.3", Reach.FORBIDDEN), ("::", Reach.FORBIDDEN),  # noqa: S104
        ("224.0.0.1", Reach.FORBIDDEN), ("ff02::1", Reach.FORBIDDEN),
        ("240.0.0.1", Reach.FORBIDDEN), ("255.255.255.255", Reach.FORBIDDEN),
        ("192.0.2.10", Reach.FORBIDDEN), ("2001:db8::1", Reach.FORBIDDEN),
        # IPv4 carried inside IPv6 is judged as IPv4
        ("::ffff:127.0.0.1", Reach.LOCAL), ("::ffff:10.0.0.1", Reach.LOCAL),
        ("::ffff:169.254.169.254", Reach.FORBIDDEN), ("::ffff:8.8.8.8", Reach.PUBLIC),
        ("64:ff9b::a9fe:a9fe", Reach.FORBIDDEN),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", Reach.LOCAL),  # 6to4 of 10.0.0.1
    ],
)  # fmt: skip
def test_each_address_class(address: str, reach: Reach) -> None:
    assert classify(ipaddress.ip_address(address)) == reach


def test_local_addresses_pass_only_when_the_company_allows_them() -> None:
    with pytest.raises(RefusedAddress) as refused:
        choose_addresses("mail.lan", ["192.168.1.10"], allow_local=False)
    assert refused.value.reach == Reach.LOCAL
    assert choose_addresses("mail.lan", ["192.168.1.10"], allow_local=True) == ["192.168.1.10"]


def test_forbidden_addresses_never_pass() -> None:
    for allow_local in (False, True):
        with pytest.raises(RefusedAddress) as refused:
            choose_addresses("evil.test", ["169.254.169.254", "fe80::1"], allow_local=allow_local)
        assert refused.value.reach == Reach.FORBIDDEN


def test_only_the_accepted_addresses_of_a_name_are_kept_in_resolver_order() -> None:
    found = ["169.254.169.254", "93.184.215.14", "10.0.0.5", "93.184.215.14"]
    assert choose_addresses("mixed.test", found, allow_local=False) == ["93.184.215.14"]
    assert choose_addresses("mixed.test", found, allow_local=True) == ["93.184.215.14", "10.0.0.5"]


def test_the_refusal_does_not_name_the_resolved_address() -> None:
    with pytest.raises(RefusedAddress) as refused:
        choose_addresses("db.internal", ["10.20.30.40"], allow_local=False)
    assert "10.20.30.40" not in str(refused.value)


def test_a_name_resolving_to_this_machine_is_local() -> None:
    with pytest.raises(RefusedAddress) as refused:
        resolve("localhost", 993, allow_local=False)
    assert refused.value.reach == Reach.LOCAL
    assert set(resolve("localhost", 993, allow_local=True)) <= {"127.0.0.1", "::1"}


@pytest.mark.parametrize("literal", ["169.254.169.254", "[fe80::1]", "0.0.0.0", "224.0.0.1"])  # noqa: S104
def test_literal_addresses_are_checked_as_they_are(literal: str) -> None:
    with pytest.raises(RefusedAddress):
        resolve(literal, 993, allow_local=True)
