"""The company's "Sincronização de e-mail" settings: validation shared by the page and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from dashboard.accounts import audit
from dashboard.accounts.service import AccountError, normalize_domain, normalize_email
from dashboard.mail.addresses import is_fingerprint
from dashboard.models import AUTO_CREATE, VISIBILITY, Company, NeverLogNote, User
from dashboard.sync.retention import count_expired
from dashboard.sync.rules import retention_horizon

SYNC_FIELDS = (
    "skip_internal",
    "visibility",
    "never_log",
    "auto_create",
    "import_days",
    "interval_minutes",
    "retention_months",
    "idle_connections",
)
LEAD_FIELDS = ("stale_days", "tracking")  # "Leads and smart emails" section
NETWORK_FIELDS = ("allow_local_servers",)  # "Mail servers" section
LIMITS = {
    "import_days": (1, 3650),
    "interval_minutes": (1, 1440),
    "stale_days": (1, 365),
    "retention_months": (1, 120),
    "idle_connections": (0, 500),  # 0: no IDLE, every mailbox on the interval
}


def parse_bounded_int(name: str, value: Any) -> int:
    """An integer within the field's limits, or AccountError naming them."""
    low, high = LIMITS[name]
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise AccountError(
            _l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high), name
        )
    return number


def parse_retention(value: Any) -> int | None:
    """Months emails are kept: empty (None) keeps them forever, else 1 to 120."""
    if value is None or not str(value).strip():
        return None
    try:
        return parse_bounded_int("retention_months", value)
    except AccountError:
        raise AccountError(
            _l("Enter a whole number of months from 1 to 120, or leave it empty to keep emails."),
            "retention_months",
        ) from None


def parse_never_log(entries: list[str] | str) -> list[str]:
    """Addresses ("ana@x.com"), domains ("@gmail.com" or "family.org") and erased people's
    fingerprints ("sha256:..."), normalized."""
    if isinstance(entries, str):
        entries = entries.replace(",", "\n").split()
    result: list[str] = []
    for entry in (e.strip() for e in entries if e.strip()):
        try:
            value = (
                entry.lower()  # an erased person, kept one-way (leads/erasure.py)
                if is_fingerprint(entry.lower())
                else normalize_email(entry)
                if "@" in entry.lstrip("@")
                else ("@" + normalize_domain(entry))
            )
        except AccountError:
            raise AccountError(
                _l("“%(entry)s” is neither an email address nor a domain.", entry=entry),
                "never_log",
            ) from None
        if value not in result:
            result.append(value)
    return result


def parse_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of the allowed values."""
    if value not in choices:
        raise AccountError(_l("Choose one of the options."), name)
    return value


class InvalidSettings(AccountError):
    """Several fields were refused at once; `errors` holds each field's AccountError."""

    def __init__(self, errors: list[AccountError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def validate_sync_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the given subset of sync settings; raise InvalidSettings naming every bad one."""
    parsers: dict[str, Callable[[Any], Any]] = {
        "skip_internal": bool,
        "visibility": lambda v: parse_choice("visibility", v, VISIBILITY),
        "never_log": parse_never_log,
        "auto_create": lambda v: parse_choice("auto_create", v, AUTO_CREATE),
        "import_days": lambda v: parse_bounded_int("import_days", v),
        "interval_minutes": lambda v: parse_bounded_int("interval_minutes", v),
        "retention_months": parse_retention,
        "idle_connections": lambda v: parse_bounded_int("idle_connections", v),
        "stale_days": lambda v: parse_bounded_int("stale_days", v),
        "tracking": bool,
        "allow_local_servers": bool,
    }
    values, errors = {}, []
    for name, value in raw.items():
        try:
            values[name] = parsers[name](value)
        except AccountError as error:
            errors.append(error)
    if errors:
        raise InvalidSettings(errors)
    return values


def current_values(company: Company) -> dict[str, Any]:
    """The company's name, domains and sync settings as plain values."""
    fields = ("name", "domains", *SYNC_FIELDS, *LEAD_FIELDS, *NETWORK_FIELDS)
    return {name: getattr(company, name) for name in fields}


def apply_company_changes(
    session: Session, company: Company, changes: dict[str, Any], actor: User | None
) -> dict[str, list[Any]]:
    """Store validated changes and audit what really changed; return that diff."""
    changed = audit.diff(current_values(company), changes)
    for name, (_old, new) in changed.items():
        setattr(company, name, list(new) if isinstance(new, list) else new)
    if changed:
        session.add(company)
        audit.record(session, actor, "company.update", changed)
    return changed


def never_log_notes(session: Session, company: Company) -> list[NeverLogNote]:
    """The notes of the entries now on the never-log list (erasures), oldest first."""
    if not company.never_log:
        return []
    query = select(NeverLogNote).where(NeverLogNote.entry.in_(company.never_log))
    return list(session.exec(query.order_by(NeverLogNote.created_at)))


def retention_outlook(session: Session, company: Company, now: datetime) -> tuple[int, date] | None:
    """What the next purge deletes under the saved retention: how many emails, and the day
    before which they are dated; None when emails are kept forever."""
    horizon = retention_horizon(company.retention_months, now)
    if horizon is None:
        return None
    return count_expired(session, horizon), horizon.date()
