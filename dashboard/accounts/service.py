"""Users, the company and first-run setup: plain functions over a session (login throttling
is in throttle.py).

Views and CLI commands call these; each raises AccountError with a translated,
user-facing message when a rule says no.
"""

from __future__ import annotations

import functools
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func
from sqlmodel import Session, select

from dashboard.accounts.security import hash_password, password_matches, password_problem
from dashboard.models import (
    ROLES,
    Company,
    User,
    UserAddress,
    new_session_token,
)
from dashboard.states import Role

EMAIL_RE = re.compile(
    r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
HOSTNAME_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class AccountError(ValueError):
    """A rule refused the change; str(error) is a translated message for the user."""

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(str(message))
        self.field = field


def normalize_email(address: str) -> str:
    """Return the address trimmed and lowercased, or raise AccountError when malformed."""
    address = address.strip().lower()
    if not EMAIL_RE.match(address) or len(address) > 254:
        raise AccountError(_l("Enter a valid email address."), "email")
    return address


def normalize_domain(domain: str) -> str:
    """Return a lowercased hostname (an optional leading @ removed) or raise AccountError."""
    name = domain.strip().lower().removeprefix("@").rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(HOSTNAME_LABEL_RE.match(x) for x in labels):
        raise AccountError(
            _l("“%(domain)s” is not a valid domain.", domain=domain.strip()), "domains"
        )
    if labels[-1].isdigit():
        raise AccountError(
            _l("“%(domain)s” is not a valid domain.", domain=domain.strip()), "domains"
        )
    return name


def normalize_domains(domains: list[str] | str) -> list[str]:
    """Validate a list (or a comma/space/newline separated text) of domains, dropping repeats."""
    if isinstance(domains, str):
        domains = re.split(r"[\s,;]+", domains)
    result: list[str] = []
    for raw in domains:
        if raw.strip() and (name := normalize_domain(raw)) not in result:
            result.append(name)
    if not result:
        raise AccountError(_l("Enter at least one email domain."), "domains")
    return result


def get_company(session: Session) -> Company | None:
    """Return the company, or None before setup."""
    return session.exec(select(Company).order_by(Company.id)).first()


def setup_done(session: Session) -> bool:
    """True once first-run setup has created a user."""
    return session.exec(select(User.id).limit(1)).first() is not None


def check_password(password: str, email: str, min_length: int) -> None:
    """Raise AccountError when the password is too weak."""
    if problem := password_problem(password, email=email, min_length=min_length):
        raise AccountError(problem, "password")


def create_user(
    session: Session, *, email: str, name: str, password: str, role: str, min_length: int = 10
) -> User:
    """Add a user after validating address, name, role, uniqueness and password strength."""
    email = normalize_email(email)
    name = name.strip()
    if not name:
        raise AccountError(_l("Enter a name."), "name")
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), "role")
    if session.exec(select(User).where(User.email == email)).first():
        raise AccountError(_l("A user with this email already exists."), "email")
    check_password(password, email, min_length)
    user = User(email=email, name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def run_setup(
    session: Session,
    *,
    company: str,
    domains: list[str] | str,
    admin_email: str,
    admin_name: str,
    password: str,
    min_length: int = 10,
) -> User:
    """Create the company and its first administrator; refuse when setup was done."""
    if setup_done(session):
        raise AccountError(_l("Setup was already done."))
    if not company.strip():
        raise AccountError(_l("Enter the company name."), "company")
    session.add(Company(name=company.strip(), domains=normalize_domains(domains)))
    return create_user(
        session,
        email=admin_email,
        name=admin_name,
        password=password,
        role=Role.ADMIN,
        min_length=min_length,
    )


def active_admin_count(session: Session) -> int:
    """Count active administrators."""
    query = select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    return session.exec(query).one()


def ensure_not_last_admin(session: Session, user: User) -> None:
    """Refuse to demote or deactivate the last active administrator."""
    if user.is_admin and user.active and active_admin_count(session) <= 1:
        raise AccountError(_l("The last active administrator cannot be demoted or deactivated."))


def update_user(session: Session, user: User, *, name: str, email: str, role: str) -> None:
    """Change a user's name, address and role, keeping one active admin."""
    email = normalize_email(email)
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), "role")
    if not name.strip():
        raise AccountError(_l("Enter a name."), "name")
    clash = session.exec(select(User).where(User.email == email, User.id != user.id)).first()
    if clash:
        raise AccountError(_l("A user with this email already exists."), "email")
    if role != Role.ADMIN:
        ensure_not_last_admin(session, user)
    user.name, user.email, user.role = name.strip(), email, role


def set_active(session: Session, user: User, active: bool) -> None:
    """Deactivate (logging the user out everywhere) or reactivate a user."""
    if not active:
        ensure_not_last_admin(session, user)
        user.session_token = new_session_token()
    user.active = active


def set_password(user: User, password: str, min_length: int = 10) -> None:
    """Store a new password and end every existing session of the user."""
    check_password(password, user.email, min_length)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()


def end_sessions(user: User) -> None:
    """Invalidate every cookie of the user (logout everywhere)."""
    user.session_token = new_session_token()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the user with this address and password (active or not), else None."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        password_matches(dummy_hash(), password)  # same cost either way: no account probing
        return None
    return user if password_matches(user.password_hash, password) else None


def aliases_of(session: Session, user_id: int) -> list[str]:
    """The other addresses a user sends from."""
    query = select(UserAddress.address).where(UserAddress.user_id == user_id)
    return list(session.exec(query.order_by(UserAddress.address)))


def set_aliases(session: Session, user: User, text: str) -> list[str]:
    """Replace the user's aliases with the addresses in `text` (one per line)."""
    wanted: list[str] = []
    for raw in re.split(r"[\s,;]+", text):
        if (
            raw.strip()
            and (address := normalize_email(raw)) not in wanted
            and address != user.email
        ):
            wanted.append(address)
    taken = list(session.exec(select(User.email).where(User.email.in_(wanted))))
    taken += session.exec(
        select(UserAddress.address).where(
            UserAddress.address.in_(wanted), UserAddress.user_id != user.id
        )
    ).all()
    if taken:
        raise AccountError(
            _l("%(address)s already belongs to another user.", address=taken[0]), "aliases"
        )
    session.exec(delete(UserAddress).where(UserAddress.user_id == user.id))
    session.add_all(UserAddress(user_id=user.id, address=a) for a in wanted)
    return wanted


@functools.cache
def dummy_hash() -> str:
    """A hash to check unknown accounts against (made once, on first use: scrypt costs
    ~70 ms, which every CLI start would otherwise pay)."""
    return hash_password("dummy-password-for-timing")
