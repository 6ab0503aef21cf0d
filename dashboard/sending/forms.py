"""Forms of smart emails: compose and templates."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from dashboard.web.forms import REQUIRED


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
