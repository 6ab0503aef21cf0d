"""Email templates: every user keeps their own (private), admins also manage the company's."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from dashboard.accounts import audit
from dashboard.db.flask import get_session
from dashboard.models import EmailTemplate
from dashboard.sending.forms import TemplateForm
from dashboard.sending.templates import (
    may_change,
    name_taken,
    save_template,
    usable_templates,
)
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page, require_fresh_login

bp = Blueprint("templates", __name__, url_prefix="/settings/templates")
bp.before_request(require_fresh_login)  # also sends anonymous visitors to the login page


@bp.before_request
def settings_nav() -> None:
    """Highlight "Email templates" in the settings menu."""
    g.nav_active = "templates"


def changeable(template_id: int) -> EmailTemplate:
    """A template the current user may change: someone else's own is 404 (never revealed),
    the company's is 403 for a rep."""
    template = get_session().get(EmailTemplate, template_id)
    if template is None or template.user_id not in (None, current_user.id):
        abort(404)
    if not may_change(current_user, template):
        abort(403)
    return template


def save(form: TemplateForm, template: EmailTemplate | None) -> EmailTemplate | None:
    """Store the form in a template (new or existing); None when the owner has the name."""
    db = get_session()
    name = form.name.data.strip()
    if template is not None:
        owner_id = template.user_id
    else:  # a rep's templates are their own; an admin chooses
        owner_id = None if current_user.is_admin and form.shared.data else current_user.id
    if name_taken(db, name, owner_id, template.id if template else None):
        form.name.errors = [_("A template with this name exists.")]
        return None
    template = save_template(
        db, template, owner_id=owner_id, name=name,
        subject=form.subject.data or "", body=form.body.data or "",
    )  # fmt: skip
    if owner_id is None:  # the change log is the company's: a rep's own stay private
        audit.record(db, current_user, "template.save", {"name": name})
    db.commit()
    return template


@bp.route("/", methods=["GET", "POST"])
def index() -> Response | tuple[str, int]:
    """List the company's templates and the user's own, and add one."""
    form = TemplateForm()
    if form.validate_on_submit() and save(form, None):
        flash(_("Template saved."), "success")
        return redirect(url_for("sending.templates.index"))
    company, own = usable_templates(get_session(), current_user.id)
    return render_page(
        "sending/templates.html",
        status=422 if form.errors else 200,
        form=form,
        company=company,
        own=own,
        action=ActionForm(),
    )


@bp.route("/<int:template_id>", methods=["GET", "POST"])
def edit(template_id: int) -> Response | tuple[str, int]:
    """Edit one template."""
    template = changeable(template_id)
    form = TemplateForm(obj=template)
    if form.validate_on_submit() and save(form, template):
        flash(_("Template saved."), "success")
        return redirect(url_for("sending.templates.index"))
    return render_page(
        "sending/template_edit.html",
        status=422 if form.errors else 200,
        form=form,
        template=template,
        action=ActionForm(),
    )


@bp.post("/<int:template_id>/delete")
def delete(template_id: int) -> Response:
    """Delete a template (emails already sent keep their text)."""
    db = get_session()
    template = changeable(template_id)
    if ActionForm().validate_on_submit():
        if template.user_id is None:
            audit.record(db, current_user, "template.delete", {"name": template.name})
        db.delete(template)
        db.commit()
        flash(_("Template deleted."), "success")
    return redirect(url_for("sending.templates.index"))
