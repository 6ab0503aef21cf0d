"""Accounts pages: first-run setup, login, logout and the language switch; the settings and
users screens are its child blueprints."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from dashboard.accounts import service as accounts
from dashboard.accounts import throttle
from dashboard.accounts.forms import LoginForm, SetupForm
from dashboard.accounts.oauth_views import bp as oauth_apps_bp
from dashboard.accounts.settings_views import bp as settings_bp
from dashboard.accounts.users_views import bp as users_bp
from dashboard.db.flask import get_session
from dashboard.models import User, utcnow
from dashboard.web.forms import show_error
from dashboard.web.i18n import LANGUAGE_NAMES
from dashboard.web.pages import redirect_page, render_page, start_fresh_session
from dashboard.web.sessions import sign_in

bp = Blueprint("accounts", __name__)
bp.register_blueprint(settings_bp)
bp.register_blueprint(users_bp)
bp.register_blueprint(oauth_apps_bp)
# Pages anyone may reach before the company exists.
OPEN_ENDPOINTS = frozenset({"static", "accounts.first_run", "accounts.language"})


@bp.before_app_request
def redirect_to_setup() -> Response | None:
    """Send every request to first-run setup while no user exists."""
    if current_app.extensions.get("leadsync.setup_done") or request.endpoint in OPEN_ENDPOINTS:
        return None
    if accounts.setup_done(get_session()):
        current_app.extensions["leadsync.setup_done"] = True
        return None
    return redirect(url_for("accounts.first_run"))


def safe_next(target: str | None) -> str:
    """Return a same-site path to go to after login, never an outside URL."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("web.index")


def throttle_window() -> timedelta:
    """How far back failed logins count."""
    return timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])


def login_limits() -> throttle.LoginLimits:
    """The configured limits: per account from one address, per account, per address."""
    config = current_app.config
    return throttle.LoginLimits(
        pair=config["LOGIN_MAX_FAILURES"],
        account=config["LOGIN_ACCOUNT_MAX_FAILURES"],
        address=config["LOGIN_ADDRESS_MAX_FAILURES"],
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Show the login form and log the user in (also used to confirm a stale session)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_page("accounts/login.html", form=form, status=422 if form.errors else 200)
    # remote_addr is the client's address: the proxy's own one unless LEADSYNC_TRUSTED_PROXIES
    # tells ProxyFix (dashboard/web/proxy.py) to take it from X-Forwarded-For.
    db, email, ip = get_session(), form.email.data or "", request.remote_addr or "?"
    limits, window = login_limits(), throttle_window()
    if throttle.login_locked(db, email=email, ip=ip, limits=limits, window=window):
        # One message whichever count locked, and for unknown addresses too: no account oracle.
        form.form_errors.append(
            _(
                "Too many failed attempts. Wait %(n)d minutes and try again.",
                n=current_app.config["LOGIN_LOCK_MINUTES"],
            )
        )
        return render_page("accounts/login.html", form=form, status=429)
    user = accounts.authenticate(db, email, form.password.data or "")
    if user is None or not user.active:
        if user is None:
            throttle.record_failure(db, email=email, ip=ip)
            form.form_errors.append(_("Wrong email or password."))
        else:
            form.form_errors.append(_("This account is deactivated. Ask an administrator."))
        db.commit()
        return render_page("accounts/login.html", form=form, status=422)
    return finish_login(user, form.remember.data, ip)


def finish_login(user: User, remember: bool, ip: str) -> Response:
    """Start a brand-new session for the user and go where they were heading."""
    db = get_session()
    old = utcnow() - 4 * throttle_window()
    throttle.clear_failures(db, email=user.email, ip=ip, older_than=old)
    user.last_login_at = utcnow()
    db.commit()
    start_fresh_session()
    sign_in(user, remember=remember)
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
    return redirect(url_for("accounts.login"))


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


@bp.route("/setup", methods=["GET", "POST"])
def first_run() -> Response | tuple[str, int]:
    """Show the setup form while no user exists; 404 afterwards."""
    db = get_session()
    if accounts.setup_done(db):
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            admin = accounts.run_setup(
                db,
                company=form.company.data,
                domains=form.domains.data,
                admin_email=form.email.data,
                admin_name=form.name.data,
                password=form.password.data,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            )
        except accounts.AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            current_app.extensions["leadsync.setup_done"] = True
            start_fresh_session()
            sign_in(admin)
            flash(_("Welcome! Your company is ready. Add your team next."), "success")
            return redirect_page(url_for("accounts.users.index"))
    return render_page(
        "accounts/setup.html",
        "accounts/_setup_form.html",
        form=form,
        status=422 if form.errors or form.form_errors else 200,
    )
