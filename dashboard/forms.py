"""Form classes. Rules beyond field shape live in dashboard.accounts, not here."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length

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
    name = getattr(error, "field", None)
    field = getattr(form, name, None) if name else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))
