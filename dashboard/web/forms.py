"""Form helpers every feature uses: the bare action form and how a refusal is shown."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

REQUIRED = _l("This field is required.")


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
