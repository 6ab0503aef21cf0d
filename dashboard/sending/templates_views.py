"""Company-wide email templates (admins): name, subject and body with placeholders."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from dashboard.accounts import audit
from dashboard.accounts.security import admin_required
from dashboard.db.flask import get_session
from dashboard.models import EmailTemplate, utcnow
from dashboard.sending.forms import TemplateForm
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page, require_fresh_login

bp = Blueprint("templates", __name__, url_prefix="/settings/templates")
bp.before_request(require_fresh_login)


@bp.before_request
@admin_required
def admins_only() -> None:
    """Templates are company-wide: admins manage them."""
    g.nav_active = "templates"


def save(form: TemplateForm, template: EmailTemplate | None) -> EmailTemplate | None:
    """Store the form in a template (new or existing); None when the name is taken."""
    db = get_session()
    name = form.name.data.strip()
    clash = db.scalar(select(EmailTemplate.id).where(EmailTemplate.name == name))
    if clash and (template is None or clash != template.id):
        form.name.errors = [_("A template with this name exists.")]
        return None
    template = template or EmailTemplate(name=name)
    template.name, template.subject = name, form.subject.data or ""
    template.body, template.updated_at = form.body.data or "", utcnow()
    db.add(template)
    audit.record(db, current_user, "template.save", {"name": name})
    db.commit()
    return template


@bp.route("/", methods=["GET", "POST"])
def index() -> Response | tuple[str, int]:
    """List the templates and add one."""
    form = TemplateForm()
    if form.validate_on_submit() and save(form, None):
        flash(_("Template saved."), "success")
        return redirect(url_for("sending.templates.index"))
    items = list(get_session().scalars(select(EmailTemplate).order_by(EmailTemplate.name)))
    return render_page(
        "sending/templates.html",
        status=422 if form.errors else 200,
        form=form,
        items=items,
        action=ActionForm(),
    )


@bp.route("/<int:template_id>", methods=["GET", "POST"])
def edit(template_id: int) -> Response | tuple[str, int]:
    """Edit one template."""
    template = get_session().get(EmailTemplate, template_id) or abort(404)
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
    template = db.get(EmailTemplate, template_id) or abort(404)
    if ActionForm().validate_on_submit():
        audit.record(db, current_user, "template.delete", {"name": template.name})
        db.delete(template)
        db.commit()
        flash(_("Template deleted."), "success")
    return redirect(url_for("sending.templates.index"))
