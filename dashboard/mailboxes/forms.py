"""Forms of the mailbox screens: connecting, folders, re-scan."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Optional

from dashboard.mailboxes.providers import PROVIDERS
from dashboard.web.forms import REQUIRED


def provider_choices() -> list[tuple[str, str]]:
    """Provider tiles from the presets table."""
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


class RescanForm(FlaskForm):
    since = DateField(_l("Re-scan from"), validators=[DataRequired(REQUIRED)])
