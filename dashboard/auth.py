"""Login, logout and the language switch."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from dashboard import accounts
from dashboard.db import get_session
from dashboard.forms import LoginForm
from dashboard.i18n import LANGUAGE_NAMES
from dashboard.models import User, utcnow
from dashboard.web import render_page, start_fresh_session

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Return a same-site path to go to after login, never an outside URL."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("home.index")


def throttle_window() -> timedelta:
    """How far back failed logins count."""
    return timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Show the login form and log the user in (also used to confirm a stale session)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_page("auth/login.html", form=form, status=422 if form.errors else 200)
    db, email, ip = get_session(), form.email.data or "", request.remote_addr or "?"
    if accounts.login_locked(
        db,
        email=email,
        ip=ip,
        window=throttle_window(),
        max_failures=current_app.config["LOGIN_MAX_FAILURES"],
    ):
        form.form_errors.append(
            _(
                "Too many failed attempts. Wait %(n)d minutes and try again.",
                n=current_app.config["LOGIN_LOCK_MINUTES"],
            )
        )
        return render_page("auth/login.html", form=form, status=429)
    user = accounts.authenticate(db, email, form.password.data or "")
    if user is None or not user.active:
        if user is None:
            accounts.record_failure(db, email=email, ip=ip)
            form.form_errors.append(_("Wrong email or password."))
        else:
            form.form_errors.append(_("This account is deactivated. Ask an administrator."))
        db.commit()
        return render_page("auth/login.html", form=form, status=422)
    return finish_login(user, form.remember.data)


def finish_login(user: User, remember: bool) -> Response:
    """Start a brand-new session for the user and go where they were heading."""
    db = get_session()
    accounts.clear_failures(db, user.email, older_than=utcnow() - 4 * throttle_window())
    user.last_login_at = utcnow()
    db.commit()
    start_fresh_session()
    login_user(user, remember=remember)
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Log out everywhere: the token rotation kills every copy of the user's cookies."""
    db = get_session()
    accounts.end_sessions(current_user)
    db.add(current_user)
    db.commit()
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember-me cookie
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Response:
    """Switch the interface language (saved in the profile when logged in)."""
    code = request.form.get("language", "")
    if code in LANGUAGE_NAMES:
        session["language"] = code
        if current_user.is_authenticated:
            db = get_session()
            current_user.language = code
            db.add(current_user)
            db.commit()
    return redirect(safe_next(request.form.get("next")))
