"""The one address normaliser, as a table: the bare address, the person, the domain."""

from __future__ import annotations

import pytest

from dashboard.mail.addresses import canonical_address, domain_of, normalize_address


@pytest.mark.parametrize(
    ("value", "bare", "person", "domain"),
    [
        ("ana@acme.com", "ana@acme.com", "ana@acme.com", "acme.com"),
        ("  Ana <ANA@Acme.com> ", "ana@acme.com", "ana@acme.com", "acme.com"),
        ("Joao+CRM@X.com", "joao+crm@x.com", "joao@x.com", "x.com"),  # the tag names no one
        ("joao+a+b@x.com", "joao+a+b@x.com", "joao@x.com", "x.com"),  # only the first + splits
        ('"Silva, João" <joao+news@x.com>', "joao+news@x.com", "joao@x.com", "x.com"),
        ("+tag@x.com", "+tag@x.com", "+tag@x.com", "x.com"),  # nothing before "+": keep it all
        ("first.last@sub.x.com", "first.last@sub.x.com", "first.last@sub.x.com", "sub.x.com"),
        ("@acme.com", "", "", ""),  # a domain is not an address
        ("nobody", "", "", ""),
        ("a@b@c.com", "", "", ""),
        ("", "", "", ""),
    ],
)
def test_address_forms(value: str, bare: str, person: str, domain: str) -> None:
    assert normalize_address(value) == bare
    assert canonical_address(value) == person
    assert domain_of(value) == domain


def test_the_canonical_form_is_a_fixed_point() -> None:
    """Stored lead addresses are canonical: normalising one again changes nothing."""
    for value in ("Joao+CRM@X.com", "+tag@x.com", "Ana <ana@acme.com>"):
        once = canonical_address(value)
        assert canonical_address(once) == once
