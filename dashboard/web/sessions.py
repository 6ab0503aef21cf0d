"""How long a login lasts: an idle timeout and an absolute lifetime, remember-me included.

The identity Flask-Login keeps (the session's `_user_id` and the remember-me cookie, both
signed with the app's secret) is "<user id>:<session token>:<login time>". The login time
travels inside it, so:

- `load_user` refuses an identity older than `SESSION_MAX_HOURS`, whether it comes from the
  session or from a remember-me cookie restoring a session after the browser was closed; an
  identity without a login time (a session from before this rule) is refused too;
- the remember-me cookie expires with the absolute lifetime, never later;
- `check_session_limits` (before every request) ends a session nobody used for
  `SESSION_IDLE_MINUTES` (the last activity, `seen_at`, lives in the signed session), and
  any expired session: its cookies go, the remember-me cookie too, and the request goes on
  anonymous, so a page that needs a login sends the user to the login page (HTMX requests
  get HX-Redirect), where a translated message says the session expired.

A remembered login that outlives its browser session starts a new idle clock when the
remember-me cookie restores it; the absolute lifetime still counts from the password.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

SEEN_EVERY = 60  # seconds: how stale `seen_at` may get before a request rewrites it


def now() -> int:
    """Seconds since the epoch (whole seconds: they go in a cookie)."""
    return int(time.time())


def max_age(app: Flask) -> timedelta:
    """The absolute lifetime of a login."""
    return timedelta(hours=app.config["SESSION_MAX_HOURS"])


def idle_limit(app: Flask) -> timedelta:
    """How long a session may go unused."""
    return timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])


def stamped(user_id: str, started: int) -> str:
    """The identity kept in the session and the remember-me cookie."""
    return f"{user_id}:{started}"


def split_identity(identity: str) -> tuple[str, str, int | None]:
    """(user id, session token, login time or None) of a stored identity."""
    user_id, _, rest = identity.partition(":")
    token, _, started = rest.partition(":")
    return user_id, token, int(started) if started.isdigit() else None


def outlived(started: int | None) -> bool:
    """The login is older than the absolute lifetime (or carries no login time)."""
    return started is None or now() - started > max_age(current_app).total_seconds()


def sign_in(user: object, *, remember: bool = False, started: int | None = None) -> None:
    """Log the user in, the login time (now, or the one being kept) in the identity."""
    login_user(user, remember=remember, duration=max_age(current_app))
    session["_user_id"] = stamped(str(session["_user_id"]), now() if started is None else started)
    session["seen_at"] = now()


def login_started() -> int | None:
    """When the current login was made (None when nobody is logged in)."""
    identity = session.get("_user_id")
    return split_identity(identity)[2] if identity else None


def check_session_limits() -> None:
    """End an idle or outlived session before the request runs; note activity otherwise."""
    if request.endpoint == "static":
        return None
    expired = False
    if current_user.is_authenticated:  # loads the user: from the session or remember-me
        seen = session.get("seen_at")
        if isinstance(seen, int) and now() - seen > idle_limit(current_app).total_seconds():
            expired = True
        elif not isinstance(seen, int) or now() - seen >= SEEN_EVERY:
            session["seen_at"] = now()
    if not (expired or g.pop("leadsync_session_outlived", False)):
        return None
    language = session.get("language")
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember-me cookie
    if language:
        session["language"] = language
    flash(_("Your session expired. Please log in again."), "info")
    return None  # the view runs for an anonymous visitor: login-required ones go to login


def init_app(app: Flask) -> None:
    """Check the limits before every request (after Flask-Login is bound)."""
    app.before_request(check_session_limits)
