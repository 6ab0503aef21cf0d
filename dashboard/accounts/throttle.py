"""Login throttling: failed logins counted per (account, client address), per account and per
client address, each with its own limit.

Why three counts. Behind a reverse proxy that is not declared (LEADSYNC_TRUSTED_PROXIES), or
on an office network behind one NAT, many users share one address; a lock keyed on the
address alone let ten failures by anyone lock the whole team out. So:

- (account, address) is the quick lock: someone guessing one account from one place is
  stopped after `pair` failures, and only there; the account's owner still logs in from
  their own address.
- the account alone has a higher limit, for one account guessed from many addresses;
  while it holds, the account is locked everywhere (its owner included: the price of
  stopping a distributed guess).
- the address alone has a high limit that only spraying reaches: the pair lock caps what
  one account adds from one address, so reaching it takes failures on several accounts.
  It blocks every login from that address, right passwords included: a sprayer's lucky
  guess must not get in, and a correct login is exactly what a sprayer is waiting for.

A success forgets only its own (account, address) failures: the account's and the
address's counts describe other people, whom one success says nothing about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from dashboard.models import LoginFailure, utcnow

PAIR, ACCOUNT, ADDRESS = "pair", "account", "ip"  # LoginFailure.scope values


@dataclass(frozen=True)
class FailureCounts:
    """Recent failed logins: of this account from this address, of the account, of the address."""

    pair: int
    account: int
    address: int


@dataclass(frozen=True)
class LoginLimits:
    """How many recent failures lock a (account, address) pair, an account, an address."""

    pair: int
    account: int
    address: int


def is_locked(counts: FailureCounts, limits: LoginLimits) -> bool:
    """True when any of the three counts reached its limit."""
    return (
        counts.pair >= limits.pair
        or counts.account >= limits.account
        or counts.address >= limits.address
    )


def failure_keys(email: str, ip: str) -> dict[str, str]:
    """The LoginFailure key of each scope for a login attempt."""
    account = email.strip().lower()
    return {PAIR: f"{account} {ip}", ACCOUNT: account, ADDRESS: ip}


def failures_since(session: Session, scope: str, key: str, since: datetime) -> int:
    """Count failed logins of one scope and key since a moment."""
    query = (
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at >= since)
    )
    return session.exec(query).one()


def recent_failures(
    session: Session, *, email: str, ip: str, window: timedelta, now: datetime | None = None
) -> FailureCounts:
    """The three counts of failures within the window."""
    since = (now or utcnow()) - window
    keys = failure_keys(email, ip)
    return FailureCounts(
        *(failures_since(session, scope, keys[scope], since) for scope in (PAIR, ACCOUNT, ADDRESS))
    )


def login_locked(
    session: Session, *, email: str, ip: str, limits: LoginLimits, window: timedelta
) -> bool:
    """True when this login attempt must be refused without checking the password."""
    return is_locked(recent_failures(session, email=email, ip=ip, window=window), limits)


def record_failure(session: Session, *, email: str, ip: str) -> None:
    """Count one failed login in each of the three scopes."""
    session.add_all(LoginFailure(scope=s, key=k) for s, k in failure_keys(email, ip).items())


def clear_failures(session: Session, *, email: str, ip: str, older_than: datetime) -> None:
    """After a successful login: forget this (account, address)'s failures; prune old rows."""
    session.exec(
        delete(LoginFailure).where(
            LoginFailure.scope == PAIR, LoginFailure.key == failure_keys(email, ip)[PAIR]
        )
    )
    session.exec(delete(LoginFailure).where(LoginFailure.at < older_than))
