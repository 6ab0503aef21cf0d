"""Forms of smart emails: compose and templates."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from dashboard.web.forms import REQUIRED

PLACEHOLDERS_HELP = _l(
    "Placeholders: {{ primeiro_nome }}, {{ nome }}, {{ empresa }}, {{ meu_nome }} (your name)."
)


class ComposeForm(FlaskForm):
    """A smart email. The template picker is not part of it: picking one fills these fields
    (see compose_views.apply_template), and what is sent is what they hold."""

    to = StringField(_l("To"), validators=[DataRequired(REQUIRED)])
    cc = StringField(_l("Cc"))
    bcc = StringField(_l("Bcc"))
    subject = StringField(_l("Subject"), validators=[Length(max=300)])
    body = TextAreaField(
        _l("Message"),
        description=_l("Blank line = new paragraph; **bold**, *italic*; links become clickable."),
    )
    reply_to = HiddenField()  # the timeline email answered (its id)
    applied = HiddenField()  # the template picked last (its id): its untouched text is replaced
    draft = HiddenField()  # the failed email being edited (its id): replaced when this is sent


class TemplateForm(FlaskForm):
    """A template; `shared` (admins only) makes a new one the company's."""

    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    subject = StringField(_l("Subject"), validators=[Length(max=300)])
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(REQUIRED)], description=PLACEHOLDERS_HELP
    )
    shared = BooleanField(_l("Company template (every user can use it)"), default=True)
