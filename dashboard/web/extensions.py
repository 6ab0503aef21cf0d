"""Extension objects, created once at import and bound to an app in init_app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, redirect, request, url_for
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session
from dashboard.db.secrets import SecretBox
from dashboard.models import User
from dashboard.web import i18n
from dashboard.web.sessions import outlived, split_identity

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()


def init_app(app: Flask) -> None:
    """Bind every extension to the app."""
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.refresh_view = "accounts.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.needs_refresh_message = _l("Please confirm your password to continue.")
    login_manager.login_message_category = login_manager.needs_refresh_message_category = "info"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=i18n.select_timezone,
        default_translation_directories=str(Path(__file__).parents[1] / "translations"),
    )
    htmx.init_app(app)
    app.extensions["leadsync.secrets"] = SecretBox.from_file(Path(app.instance_path) / "fernet.key")


@login_manager.user_loader
def load_user(cookie_id: str) -> User | None:
    """Find the user named by a session or remember-me cookie, if its token is current and
    the login is younger than the absolute lifetime (dashboard/web/sessions.py)."""
    user_id, token, started = split_identity(cookie_id)
    if not user_id.isdigit() or not token:
        return None
    if outlived(started):
        g.leadsync_session_outlived = True
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Send anonymous visitors to the login page (HTMX requests get a full redirect)."""
    target = url_for("accounts.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        response = Response(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)
