"""The one address normaliser: how LeadSync reads, compares and stores an email address.

Standard library only. Two forms:
- `normalize_address`: the bare address, lowercased ("Ana <ANA@X.com>" -> "ana@x.com"). It
  keeps a "+tag": it is what a message was really sent to (recipients, Email rows).
- `canonical_address`: the normalised address without its "+tag" ("ana+crm@x.com" ->
  "ana@x.com"). It names a person: a lead's stored address (`LeadAddress.address`), every
  lookup of a lead by address, the skip ledger's addresses, dismissed suggestions, and the
  company identity (users, aliases, never-log list) are all in this form.

Why a lead's address drops the tag: the sync has always matched people this way, so a lead
typed on the form as "joao+crm@x.com" and stored with its tag was never found again (the
sync looked for "joao@x.com"). Most providers deliver "joao+crm@" to "joao@", so they are
one person; the cost is that a tag a rep typed is not kept (one mailbox, one lead). User
login emails are not lead addresses: accounts.normalize_email validates and keeps them as
typed, and the company identity compares them through `canonical_address`.
"""

from __future__ import annotations

import hashlib
from email.utils import getaddresses

FINGERPRINT_PREFIX = "sha256:"


def normalize_address(value: str) -> str:
    """Return the bare lowercased address of "Name <addr>" or "addr", or "" when none."""
    pairs = getaddresses([value]) if ("<" in value or "," in value) else [("", value)]
    address = pairs[0][1].strip().lower() if pairs else ""
    return address if address.count("@") == 1 and not address.startswith("@") else ""


def canonical_address(address: str) -> str:
    """The address without a "+tag" in its local part: how we recognise a person."""
    local, _, domain = normalize_address(address).partition("@")
    if not domain:
        return ""
    # "+tag@x.com" has nothing before its "+": that whole local part is the mailbox.
    return f"{local.split('+', 1)[0] or local}@{domain}"


def domain_of(address: str) -> str:
    """The lowercased domain of an address ("" when it is not one)."""
    return normalize_address(address).rpartition("@")[2]


def fingerprint(address: str) -> str:
    """A one-way name for a person's address ("sha256:<hex>" of its canonical form): the
    never-log list keeps an erased person this way, so the sync still recognises their mail
    while the database no longer holds the address itself."""
    digest = hashlib.sha256(canonical_address(address).encode()).hexdigest()
    return f"{FINGERPRINT_PREFIX}{digest}"


def is_fingerprint(entry: str) -> bool:
    """True for an entry written by `fingerprint`."""
    digest = entry.removeprefix(FINGERPRINT_PREFIX)
    return entry.startswith(FINGERPRINT_PREFIX) and len(digest) == 64 and digest.isalnum()
