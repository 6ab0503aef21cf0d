"""Forms of the lead screens: editing and merging."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from dashboard.web.forms import REQUIRED


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
