"""Settings area: "Meu perfil" for everyone, "Perfil da Empresa" for admins."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from dashboard import accounts
from dashboard.db import get_session
from dashboard.forms import ChangePasswordForm, CompanyForm, ProfileForm, show_error
from dashboard.i18n import select_timezone, timezone_choices
from dashboard.security import admin_required, password_matches
from dashboard.web import render_page, require_fresh_login

bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.before_request(require_fresh_login)


@bp.get("/")
def index() -> Response:
    """Open the first item of the settings panel."""
    return redirect(url_for("settings.profile"))


def profile_form() -> ProfileForm:
    """The profile form filled with the current user's values."""
    form = ProfileForm(obj=current_user)
    form.timezone.choices = timezone_choices()
    if not form.is_submitted():
        form.language.data = current_user.language or str(g.get("locale", "pt_BR"))
        form.timezone.data = select_timezone()
    return form


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> tuple[str, int]:
    """Edit one's own name, language and time zone."""
    g.nav_active = "profile"
    form, status = profile_form(), 200
    if form.validate_on_submit():
        db = get_session()
        current_user.name = form.name.data.strip()
        current_user.language, current_user.timezone = form.language.data, form.timezone.data
        db.add(current_user)
        db.commit()
        form.saved = _("Profile saved.")
    elif form.errors:
        status = 422
    return render_page(
        "settings/profile.html",
        "settings/_profile_form.html",
        status=status,
        form=form,
        password_form=ChangePasswordForm(formdata=None),
    )


@bp.post("/password")
def change_password() -> tuple[str, int] | Response:
    """Change one's own password; every other session of the user ends."""
    g.nav_active = "profile"
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not password_matches(current_user.password_hash, form.current.data):
            form.current.errors = [_("The current password is wrong.")]
        else:
            try:
                accounts.set_password(
                    current_user, form.password.data, current_app.config["PASSWORD_MIN_LENGTH"]
                )
            except accounts.AccountError as error:
                show_error(form, error)
            else:
                return password_changed()
    return render_page(
        "settings/profile.html",
        "settings/_password_form.html",
        status=422,
        form=profile_form(),
        password_form=form,
    )


def password_changed() -> tuple[str, int]:
    """Save the new password and keep this browser logged in with the new token."""
    from flask_login import login_user

    db = get_session()
    db.add(current_user)
    db.commit()
    login_user(current_user._get_current_object())  # the cookie must carry the new token
    form = ChangePasswordForm(formdata=None)
    form.saved = _("Password changed. Other sessions were logged out.")
    return render_page(
        "settings/profile.html",
        "settings/_password_form.html",
        form=profile_form(),
        password_form=form,
    )


@bp.route("/company", methods=["GET", "POST"])
@admin_required
def company() -> tuple[str, int]:
    """Edit the company's name and email domains."""
    g.nav_active = "company"
    db = get_session()
    record = accounts.get_company(db)
    form, status = CompanyForm(obj=record), 200
    if not form.is_submitted():
        form.domains.data = "\n".join(record.domains)
    if form.validate_on_submit():
        try:
            record.domains = accounts.normalize_domains(form.domains.data)
        except accounts.AccountError as error:
            show_error(form, error)
        else:
            record.name = form.name.data.strip()
            db.add(record)
            db.commit()
            form.domains.data = "\n".join(record.domains)
            form.saved = _("Company profile saved.")
    if form.errors or form.form_errors:
        status = 422
    return render_page(
        "settings/company.html", "settings/_company_form.html", status=status, form=form
    )
