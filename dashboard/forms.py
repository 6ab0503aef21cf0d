"""Form classes. Rules beyond field shape live in dashboard.accounts, not here."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from dashboard.i18n import LANGUAGE_NAMES

REQUIRED = _l("This field is required.")


def role_choices() -> list[tuple[str, object]]:
    """Roles with their translated labels."""
    return [("rep", _l("Sales rep")), ("admin", _l("Administrator"))]


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
    name = StringField(_l("Company name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    domains = TextAreaField(
        _l("Company email domains"),
        validators=[DataRequired(REQUIRED)],
        description=_l("One per line, e.g. acme.com and acme.com.br"),
    )


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED)])
    role = SelectField(_l("Role"), choices=role_choices)


class NewUserForm(NewPasswordMixin, UserForm):
    pass


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    pass


class ActionForm(FlaskForm):
    """A bare form: a button whose POST carries only the CSRF token."""


def show_error(form: FlaskForm, error: Exception) -> None:
    """Show a rule's refusal next to its field (error.field), or above the form."""
    for each in getattr(error, "errors", None) or ():
        show_error(form, each)
    if getattr(error, "errors", None):
        return
    name = getattr(error, "field", None)
    field = getattr(form, name, None) if name else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def provider_choices() -> list[tuple[str, str]]:
    """Provider tiles from the presets table."""
    from dashboard.providers import PROVIDERS

    return [
        (p.key, p.name if p.key != "other" else str(_l("Other IMAP"))) for p in PROVIDERS.values()
    ]


def security_choices() -> list[tuple[str, object]]:
    """Connection security options; "none" is accepted only for localhost."""
    return [("tls", "TLS"), ("starttls", "STARTTLS"), ("none", _l("None (localhost only)"))]


class MailboxForm(FlaskForm):
    provider = RadioField(_l("Provider"), choices=provider_choices, default="gmail")
    address = EmailField(_l("User name (mailbox address)"), validators=[DataRequired(REQUIRED)])
    username = StringField(_l("Login name, if not the address"))
    password = PasswordField(_l("Password (app password)"))
    imap_host = StringField(_l("IMAP server"))
    imap_port = IntegerField(_l("IMAP port"), default=993, validators=[Optional()])
    imap_security = SelectField(_l("IMAP security"), choices=security_choices, default="tls")
    smtp_host = StringField(_l("SMTP server"))
    smtp_port = IntegerField(_l("SMTP port"), default=465, validators=[Optional()])
    smtp_security = SelectField(_l("SMTP security"), choices=security_choices, default="tls")


class FoldersForm(FlaskForm):
    folders = SelectMultipleField(_l("Folders"), choices=[], validate_choice=False)


class SyncSettingsForm(FlaskForm):
    skip_internal = BooleanField(
        _l("Keep emails exchanged only between the company's employees from being synced")
    )
    visibility = SelectField(
        _l("What teammates see of emails synced from other reps' mailboxes"),
        choices=lambda: [
            ("all", _l("Everything")),
            ("subject", _l("Subject only")),
            ("metadata", _l("Only date, direction and rep")),
        ],
    )
    never_log = TextAreaField(
        _l("Never log these addresses or domains"),
        description=_l("One per line: ana@example.com, @gmail.com or family.org"),
    )
    auto_create = SelectField(
        _l("Create leads automatically"),
        choices=lambda: [
            ("never", _l("Never")),
            ("suggest", _l("Suggest them for review")),
            ("sent", _l("From emails we send")),
            ("all", _l("From emails sent and received")),
        ],
    )
    # Text fields: the shared validation (also used by the CLI) reports every bad value at once.
    import_days = StringField(
        _l("First import reaches back (days)"), render_kw={"inputmode": "numeric"}
    )
    interval_minutes = StringField(_l("Sync every (minutes)"), render_kw={"inputmode": "numeric"})


class LeadSettingsForm(FlaskForm):
    stale_days = StringField(
        _l("Days before a lead shows “awaiting reply”"), render_kw={"inputmode": "numeric"}
    )
    tracking = BooleanField(_l("Track opens and link clicks of smart emails"))


class AliasesForm(FlaskForm):
    aliases = TextAreaField(
        _l("Other addresses you send from"),
        description=_l(
            "One per line: aliases, or a personal address you use "
            "for work. They count as the company's."
        ),
    )


class RescanForm(FlaskForm):
    since = DateField(_l("Re-scan from"), validators=[DataRequired(REQUIRED)])


class LeadForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    addresses = TextAreaField(
        _l("Email addresses"), validators=[DataRequired(REQUIRED)], description=_l("One per line.")
    )
    company = StringField(_l("Company"), validators=[Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Length(max=50)])
    owner = SelectField(_l("Owner"), coerce=int)


class MergeForm(FlaskForm):
    other = StringField(
        _l("Address of the lead to merge into this one"), validators=[DataRequired(REQUIRED)]
    )


class ComposeForm(FlaskForm):
    to = StringField(_l("To"), validators=[DataRequired(REQUIRED)])
    cc = StringField(_l("Cc"))
    bcc = StringField(_l("Bcc"))
    subject = StringField(_l("Subject"), validators=[Length(max=300)])
    body = TextAreaField(
        _l("Message"),
        description=_l(
            "Blank line = new paragraph; **bold**, *italic*; links become clickable. "
            "Placeholders: {{ first_name }}, {{ company }}, {{ rep_name }}."
        ),
    )
    template = SelectField(_l("Template"), coerce=int)
    reply_to = HiddenField()


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    subject = StringField(_l("Subject"), validators=[Length(max=300)])
    body = TextAreaField(_l("Message"), validators=[DataRequired(REQUIRED)])
