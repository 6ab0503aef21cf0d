"""Forms of the mailbox screens: connecting, folders, re-scan."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Optional, ValidationError

from dashboard.mailboxes.providers import PROVIDERS
from dashboard.models import Mailbox
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
    address = EmailField(_l("User name (your email address)"), validators=[DataRequired(REQUIRED)])
    # The login is the address unless the rep says otherwise (an alias whose account signs in
    # with the main address, an iCloud name without @icloud.com, a company server's login).
    other_login = BooleanField(_l("Use another login"))
    username = StringField(_l("Login"))
    password = PasswordField(_l("Password (app password)"))
    imap_host = StringField(_l("IMAP server"))
    imap_port = IntegerField(_l("IMAP port"), default=993, validators=[Optional()])
    imap_security = SelectField(_l("IMAP security"), choices=security_choices, default="tls")
    smtp_host = StringField(_l("SMTP server"))
    smtp_port = IntegerField(_l("SMTP port"), default=465, validators=[Optional()])
    smtp_security = SelectField(_l("SMTP security"), choices=security_choices, default="tls")

    def validate_username(self, field: StringField) -> None:
        """A login is needed once "Use another login" is ticked."""
        if self.other_login.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter the login, or untick “Use another login”."))

    @property
    def login(self) -> str:
        """The login typed, or "" when the address is the login."""
        return (self.username.data or "").strip() if self.other_login.data else ""


def saved_connection_form(mailbox: Mailbox) -> MailboxForm:
    """The form filled from a connected mailbox: its login shown only when it is not the
    address (the password is never filled)."""
    form = MailboxForm(obj=mailbox, formdata=None)
    form.other_login.data = mailbox.username != mailbox.address
    form.username.data = mailbox.username if form.other_login.data else ""
    return form


class FoldersForm(FlaskForm):
    folders = SelectMultipleField(_l("Folders"), choices=[], validate_choice=False)


class RescanForm(FlaskForm):
    since = DateField(_l("Re-scan from"), validators=[DataRequired(REQUIRED)])


KEEP, REMOVE = "keep", "remove"


class DisconnectForm(FlaskForm):
    """Disconnect, keeping the synced history (the default) or removing it (admins)."""

    history = RadioField(
        _l("Synced history"),
        choices=[(KEEP, _l("Keep the synced emails")), (REMOVE, _l("Remove the synced emails"))],
        default=KEEP,
    )
    remove_emptied_leads = BooleanField(_l("Also delete the leads left without emails"))
