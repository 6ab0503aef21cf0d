"""Pure decisions about which emails are synced and how they relate to the company.

Standard library only: no Flask, no database, no IMAP. The sync engine calls these;
views show their results. People are compared by `canonical_address` (mail/addresses.py:
lowercased, "+tag" dropped), the form a lead's address is stored in.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dashboard.mail.addresses import (
    canonical_address,
    domain_of,
    fingerprint,
    is_fingerprint,
    normalize_address,
)
from dashboard.states import AutoCreate, SkipReason

AUTOMATED_LOCAL_PARTS = (
    "no-reply",
    "noreply",
    "do-not-reply",
    "donotreply",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
    "notifications",
    "notification",
)


@dataclass(frozen=True)
class CompanyIdentity:
    """Who counts as "the company": its domains plus every user's addresses and aliases."""

    domains: frozenset[str]
    addresses: frozenset[str]

    @classmethod
    def build(cls, domains: Iterable[str], addresses: Iterable[str]) -> CompanyIdentity:
        """Normalize domains and addresses once, for many checks."""
        return cls(
            frozenset(d.strip().lower().removeprefix("@") for d in domains if d.strip()),
            frozenset(filter(None, (canonical_address(a) for a in addresses))),
        )

    def owns(self, address: str) -> bool:
        """True when the address is the company's: one of its domains (exactly) or a user's."""
        canonical = canonical_address(address)
        return bool(canonical) and (
            canonical.rpartition("@")[2] in self.domains or canonical in self.addresses
        )


def real_addresses(participants: Iterable[str]) -> list[str]:
    """Normalize participants, dropping empty and malformed ones."""
    return [a for a in (normalize_address(p) for p in participants) if a]


def is_internal(participants: Iterable[str], company: CompanyIdentity) -> bool:
    """True when every participant (From, To, Cc, Bcc when known) belongs to the company."""
    addresses = real_addresses(participants)
    return bool(addresses) and all(company.owns(a) for a in addresses)


def external_addresses(participants: Iterable[str], company: CompanyIdentity) -> list[str]:
    """Participants outside the company, normalized, in order, without repeats."""
    seen: dict[str, None] = {}
    for address in real_addresses(participants):
        if not company.owns(address):
            seen.setdefault(address, None)
    return list(seen)


@dataclass(frozen=True)
class NeverLogList:
    """Addresses and whole domains whose mail is never stored and who never become leads."""

    addresses: frozenset[str]
    domains: frozenset[str]
    fingerprints: frozenset[str] = frozenset()  # erased people (mail/addresses.fingerprint)

    @classmethod
    def build(cls, entries: Iterable[str]) -> NeverLogList:
        """Split entries into addresses ("a@b.com"), domains ("@b.com" or "b.com") and the
        fingerprints of erased people's addresses ("sha256:...")."""
        addresses, domains, fingerprints = set(), set(), set()
        for entry in (e.strip().lower() for e in entries):
            if is_fingerprint(entry):
                fingerprints.add(entry)
            elif entry.startswith("@") or ("@" not in entry and entry):
                domains.add(entry.removeprefix("@"))
            elif entry:
                addresses.add(canonical_address(entry))
        return cls(frozenset(addresses), frozenset(domains), frozenset(fingerprints))

    def covers(self, address: str) -> bool:
        """True when the address, its exact domain, or its fingerprint is on the list."""
        return (
            canonical_address(address) in self.addresses
            or domain_of(address) in self.domains
            or bool(self.fingerprints and fingerprint(address) in self.fingerprints)
        )


def only_never_logged_outsiders(external: Iterable[str], never_log: NeverLogList) -> bool:
    """True when there are outsiders and every one of them is on the never-log list."""
    outsiders = list(external)
    return bool(outsiders) and all(never_log.covers(a) for a in outsiders)


def looks_automated_address(address: str) -> bool:
    """True for senders like no-reply@, mailer-daemon@, postmaster@."""
    local = canonical_address(address).partition("@")[0]
    return any(
        local == part or local.startswith(f"{part}-") or local.startswith(f"{part}.")
        for part in AUTOMATED_LOCAL_PARTS
    )


def is_outbound(sender: str, mailbox_owner: Iterable[str], company: CompanyIdentity) -> bool:
    """Outbound when the sender is the mailbox owner (any of their addresses) or the company."""
    owner = {canonical_address(a) for a in mailbox_owner}
    return canonical_address(sender) in owner or company.owns(sender)


# --- Which messages are stored, and which leads they link to --------------------------------

SKIP_REASONS = tuple(SkipReason)


@dataclass(frozen=True)
class SyncPolicy:
    """The company's settings as the sync round reads them at its start."""

    company: CompanyIdentity
    never_log: NeverLogList
    skip_internal: bool = True
    auto_create: str = AutoCreate.SENT
    max_size: int = 100 * 1024 * 1024
    dismissed: frozenset[str] = frozenset()  # suggestions turned down: never again


@dataclass(frozen=True)
class MessageFacts:
    """What the rules need of one message (taken from the parsed headers)."""

    sender: str
    recipients: tuple[str, ...]  # To and Cc
    bcc: tuple[str, ...] = ()
    automated: bool = False
    size: int = 0


@dataclass(frozen=True)
class Decision:
    """Store (linking `lead_addresses`, creating leads for `new_lead_addresses`) or skip."""

    store: bool
    reason: str | None = None  # a SKIP_REASONS entry when not stored
    outbound: bool = False
    lead_addresses: tuple[str, ...] = ()  # known leads' addresses involved
    new_lead_addresses: tuple[str, ...] = ()  # people to turn into leads (or suggestions)
    outsiders: tuple[str, ...] = ()  # for the "no lead" ledger, for retroactive linking


def participants_of(facts: MessageFacts, outbound: bool) -> list[str]:
    """From, To, Cc, and Bcc only on mail we sent (a received Bcc names nobody else)."""
    return [facts.sender, *facts.recipients, *(facts.bcc if outbound else ())]


def new_lead_candidates(
    facts: MessageFacts, outsiders: list[str], outbound: bool, policy: SyncPolicy
) -> tuple[str, ...]:
    """Who may become a lead under the company's policy (never automated or never-log)."""
    if policy.auto_create == AutoCreate.NEVER or facts.automated:
        return ()
    if not outbound and policy.auto_create == AutoCreate.SENT:
        return ()
    pool = outsiders if outbound else [a for a in outsiders if a == normalize_address(facts.sender)]
    return tuple(
        a
        for a in pool
        if not looks_automated_address(a)
        and not policy.never_log.covers(a)
        and canonical_address(a) not in policy.dismissed
    )


def decide(
    facts: MessageFacts,
    owner_addresses: Iterable[str],
    known_leads: Iterable[str] | set,
    policy: SyncPolicy,
) -> Decision:
    """Apply the company's rules to one message. `known_leads`: canonical lead addresses."""
    outbound = is_outbound(facts.sender, owner_addresses, policy.company)
    participants = participants_of(facts, outbound)
    if facts.size > policy.max_size:
        return Decision(False, SkipReason.TOO_LARGE, outbound)
    if policy.skip_internal and is_internal(participants, policy.company):
        return Decision(False, SkipReason.INTERNAL, outbound)
    outsiders = external_addresses(participants, policy.company)
    if only_never_logged_outsiders(outsiders, policy.never_log):
        return Decision(False, SkipReason.NEVER_LOG, outbound)
    linkable = [a for a in outsiders if not policy.never_log.covers(a)]
    leads = tuple(a for a in linkable if canonical_address(a) in known_leads or a in known_leads)
    fresh = tuple(
        a for a in new_lead_candidates(facts, linkable, outbound, policy) if a not in leads
    )
    if leads or fresh:
        return Decision(True, None, outbound, leads, fresh)
    automated = facts.automated or looks_automated_address(facts.sender)
    reason = SkipReason.AUTOMATED if automated and not outbound else SkipReason.NO_LEAD
    return Decision(False, reason, outbound, outsiders=tuple(linkable))


# --- Retention: how far back emails are kept (the purge and the import window agree) -------


def retention_horizon(months: int | None, now: datetime) -> datetime | None:
    """The oldest instant kept: midnight (UTC) of the same day `months` calendar months
    before `now` (the month's last day when it is shorter); None when everything is kept.

    The one rule: the daily purge deletes what is older, and the sync never fetches or
    stores it again (its search window starts on this day, and a message whose date is
    older is dropped even when the server's arrival date let it through).
    """
    if not months:
        return None
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])
    return datetime(year, month + 1, day, tzinfo=UTC)


def kept_by_retention(when: datetime | None, horizon: datetime | None) -> bool:
    """True when a message dated `when` is inside the retention (always, with no horizon).
    Naive datetimes are UTC, as the database stores them."""
    if horizon is None or when is None:
        return True
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) >= horizon


def window_start(since: date, horizon: datetime | None) -> date:
    """The first day a search for mail reaches back to: `since` (the import window, or a
    re-scan's day), but never before the retention horizon."""
    return max(since, horizon.date()) if horizon is not None else since


# --- Cursors: whether a folder has anything for this round ---------------------------------


@dataclass(frozen=True)
class FolderMark:
    """Where a folder's sync stands (its cursor) and what the server says of it now."""

    cursor_uidvalidity: int
    last_uid: int
    done: int
    total: int
    uidvalidity: int
    uidnext: int  # 0 when the server did not say


def folder_is_current(mark: FolderMark, rescan: bool = False) -> bool:
    """True when a folder has nothing for this round: the same UIDVALIDITY, no re-scan
    asked, no windowed pass left unfinished, and UIDNEXT right after the cursor's last UID
    (every UID below it accounted for). A server that gives no UIDNEXT is never current."""
    return (
        not rescan
        and mark.cursor_uidvalidity == mark.uidvalidity
        and mark.done >= mark.total
        and 0 < mark.uidnext <= mark.last_uid + 1
    )
