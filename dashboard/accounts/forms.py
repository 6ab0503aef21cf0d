"""Forms of the accounts screens: setup, login, profile, company settings, users."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from dashboard.states import AutoCreate, Role, Visibility
from dashboard.web.forms import REQUIRED
from dashboard.web.i18n import LANGUAGE_NAMES

# One label per field and per choice: the forms show them, and the audit log names a change
# with the same words (accounts/audit_sentences.py).
ROLE_LABELS = {Role.REP: _l("Sales rep"), Role.ADMIN: _l("Administrator")}
VISIBILITY_LABELS = {
    Visibility.ALL: _l("Everything"),
    Visibility.SUBJECT: _l("Subject only"),
    Visibility.METADATA: _l("Only date, direction and rep"),
}
AUTO_CREATE_LABELS = {
    AutoCreate.NEVER: _l("Never"),
    AutoCreate.SUGGEST: _l("Suggest them for review"),
    AutoCreate.SENT: _l("From emails we send"),
    AutoCreate.ALL: _l("From emails sent and received"),
}
USER_LABELS = {"name": _l("Name"), "email": _l("Email"), "role": _l("Role")}
COMPANY_LABELS = {
    "name": _l("Company name"),
    "domains": _l("Company email domains"),
    "skip_internal": _l(
        "Keep emails exchanged only between the company's employees from being synced"
    ),
    "visibility": _l("What teammates see of emails synced from other reps' mailboxes"),
    "never_log": _l("Never log these addresses or domains"),
    "auto_create": _l("Create leads automatically"),
    "import_days": _l("First import reaches back (days)"),
    "interval_minutes": _l("Sync every (minutes)"),
    "retention_months": _l("Keep emails for (months; empty = always)"),
    "idle_connections": _l("Real-time connections (IMAP IDLE)"),
    "stale_days": _l("Days before a lead shows “awaiting reply”"),
    "tracking": _l("Track opens and link clicks of smart emails"),
    "allow_local_servers": _l("Allow mail servers on the local network"),
}
CHOICE_LABELS = {
    "role": ROLE_LABELS,
    "visibility": VISIBILITY_LABELS,
    "auto_create": AUTO_CREATE_LABELS,
}


def role_choices() -> list[tuple[str, object]]:
    """Roles with their translated labels."""
    return list(ROLE_LABELS.items())


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])
    remember = BooleanField(_l("Remember me"))


class NewPasswordMixin:
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords differ."))],
    )


class SetupForm(NewPasswordMixin, FlaskForm):
    company = StringField(_l("Company name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    domains = TextAreaField(
        _l("Company email domains"),
        validators=[DataRequired(REQUIRED)],
        description=_l("One per line, e.g. acme.com and acme.com.br"),
    )
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField(_l("Your email"), validators=[DataRequired(REQUIRED)])


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    language = SelectField(_l("Language"), choices=list(LANGUAGE_NAMES.items()))
    timezone = SelectField(_l("Time zone"))
    signature = TextAreaField(
        _l("Signature"),
        validators=[Length(max=2000)],
        description=_l("Added to the end of the emails you send from LeadSync."),
    )


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])


class CompanyForm(FlaskForm):
    name = StringField(COMPANY_LABELS["name"], validators=[DataRequired(REQUIRED), Length(max=120)])
    domains = TextAreaField(
        COMPANY_LABELS["domains"],
        validators=[DataRequired(REQUIRED)],
        description=_l("One per line, e.g. acme.com and acme.com.br"),
    )


class UserForm(FlaskForm):
    name = StringField(USER_LABELS["name"], validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField(USER_LABELS["email"], validators=[DataRequired(REQUIRED)])
    role = SelectField(USER_LABELS["role"], choices=role_choices)


class NewUserForm(NewPasswordMixin, UserForm):
    pass


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    pass


class SyncSettingsForm(FlaskForm):
    skip_internal = BooleanField(COMPANY_LABELS["skip_internal"])
    visibility = SelectField(
        COMPANY_LABELS["visibility"], choices=lambda: list(VISIBILITY_LABELS.items())
    )
    never_log = TextAreaField(
        COMPANY_LABELS["never_log"],
        description=_l("One per line: ana@example.com, @gmail.com or family.org"),
    )
    auto_create = SelectField(
        COMPANY_LABELS["auto_create"], choices=lambda: list(AUTO_CREATE_LABELS.items())
    )
    # Text fields: the shared validation (also used by the CLI) reports every bad value at once.
    import_days = StringField(COMPANY_LABELS["import_days"], render_kw={"inputmode": "numeric"})
    interval_minutes = StringField(
        COMPANY_LABELS["interval_minutes"], render_kw={"inputmode": "numeric"}
    )
    retention_months = StringField(
        COMPANY_LABELS["retention_months"], render_kw={"inputmode": "numeric"}
    )
    idle_connections = StringField(
        COMPANY_LABELS["idle_connections"], render_kw={"inputmode": "numeric"}
    )


class LeadSettingsForm(FlaskForm):
    stale_days = StringField(COMPANY_LABELS["stale_days"], render_kw={"inputmode": "numeric"})
    tracking = BooleanField(COMPANY_LABELS["tracking"])


class NetworkSettingsForm(FlaskForm):
    allow_local_servers = BooleanField(COMPANY_LABELS["allow_local_servers"])


class OAuthAppForm(FlaskForm):
    """The app registered with Google or Microsoft (the secret is never filled back)."""

    client_id = StringField(_l("Client ID"))
    client_secret = PasswordField(_l("Client secret"))


class AliasesForm(FlaskForm):
    aliases = TextAreaField(
        _l("Other addresses you send from"),
        description=_l(
            "One per line: aliases, or a personal address you use "
            "for work. They count as the company's."
        ),
    )
