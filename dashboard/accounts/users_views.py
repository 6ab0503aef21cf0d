"""Users admin ("A Minha Empresa > Usuários"): list, add, edit, (de)activate, reset password."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select
from werkzeug.wrappers import Response

from dashboard.accounts import audit
from dashboard.accounts import service as accounts
from dashboard.accounts.forms import NewUserForm, ResetPasswordForm, UserForm
from dashboard.accounts.security import admin_required
from dashboard.db.flask import get_session
from dashboard.models import Mailbox, User
from dashboard.web.forms import ActionForm, show_error
from dashboard.web.pages import render_page, require_fresh_login

bp = Blueprint("users", __name__, url_prefix="/settings/users")
bp.before_request(require_fresh_login)


@bp.before_request
@admin_required
def admins_only() -> None:
    """Every page here is for administrators."""
    g.nav_active = "users"


def all_users() -> list[User]:
    """Users sorted active first, then by name."""
    return list(get_session().exec(select(User).order_by(User.active.desc(), User.name)))


def mailboxes_by_user() -> dict[int, Mailbox]:
    """Every user's mailbox, to show connection status (never secrets)."""
    return {m.user_id: m for m in get_session().exec(select(Mailbox))}


def user_or_404(user_id: int) -> User:
    """Load a user or answer 404."""
    return get_session().get(User, user_id) or abort(404)


@bp.route("/", methods=["GET", "POST"])
def index() -> tuple[str, int]:
    """List users and add a new one."""
    form, status = NewUserForm(), 200
    if form.validate_on_submit():
        db = get_session()
        try:
            user = accounts.create_user(
                db,
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                role=form.role.data,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            )
        except accounts.AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            audit.record(
                db,
                current_user,
                "user.add",
                {"name": user.name, "email": user.email, "role": user.role},
            )
            db.commit()
            flash(_("User %(name)s added.", name=user.name), "success")
            form = NewUserForm(formdata=None)
    if form.errors or form.form_errors:
        status = 422
    return render_page(
        "accounts/users/index.html",
        "accounts/users/_new_form.html",
        status=status,
        form=form,
        users=all_users(),
        action=ActionForm(),
        mailboxes=mailboxes_by_user(),
    )


@bp.route("/<int:user_id>", methods=["GET", "POST"])
def edit(user_id: int) -> tuple[str, int] | Response:
    """Edit a user's name, address and role."""
    user, db = user_or_404(user_id), get_session()
    form = UserForm(obj=user)
    if form.validate_on_submit():
        before = {"name": user.name, "email": user.email, "role": user.role}
        try:
            accounts.update_user(
                db, user, name=form.name.data, email=form.email.data, role=form.role.data
            )
        except accounts.AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            after = {"name": user.name, "email": user.email, "role": user.role}
            audit.record(
                db,
                current_user,
                "user.edit",
                {"user": before["email"], **audit.diff(before, after)},
            )
            db.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("accounts.users.edit", user_id=user.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_page(
        "accounts/users/edit.html",
        status=status,
        user=user,
        form=form,
        reset_form=ResetPasswordForm(formdata=None),
        action=ActionForm(),
    )


@bp.post("/<int:user_id>/active")
def toggle_active(user_id: int) -> Response:
    """Deactivate an active user or reactivate an inactive one."""
    user, db = user_or_404(user_id), get_session()
    if ActionForm().validate_on_submit():
        try:
            accounts.set_active(db, user, not user.active)
        except accounts.AccountError as error:
            flash(str(error), "error")
        else:
            action = "user.activate" if user.active else "user.deactivate"
            audit.record(db, current_user, action, {"user": user.email})
            db.commit()
            if user.active:
                flash(_("%(name)s can log in again.", name=user.name), "success")
            else:
                flash(_("%(name)s was deactivated and logged out.", name=user.name), "success")
    return redirect(url_for("accounts.users.edit", user_id=user.id))


@bp.post("/<int:user_id>/password")
def reset_password(user_id: int) -> tuple[str, int] | Response:
    """Set a new password for a user; their sessions end."""
    user, db = user_or_404(user_id), get_session()
    reset_form = ResetPasswordForm()
    if reset_form.validate_on_submit():
        try:
            accounts.set_password(
                user, reset_form.password.data, current_app.config["PASSWORD_MIN_LENGTH"]
            )
        except accounts.AccountError as error:
            show_error(reset_form, error)
        else:
            audit.record(db, current_user, "user.reset_password", {"user": user.email})
            db.commit()
            flash(_("New password set for %(name)s.", name=user.name), "success")
            return redirect(url_for("accounts.users.edit", user_id=user.id))
    return render_page(
        "accounts/users/edit.html",
        status=422,
        user=user,
        form=UserForm(obj=user),
        reset_form=reset_form,
        action=ActionForm(),
    )
