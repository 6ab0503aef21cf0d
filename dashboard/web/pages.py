"""Cross-cutting web behaviour: page rendering, redirects, headers, error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import format_decimal, format_timedelta, get_locale
from flask_login import current_user, login_fresh
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from dashboard.web.dates import DateFormatter, format_day
from dashboard.web.extensions import htmx
from dashboard.web.i18n import page_gettext
from dashboard.web.numbers import format_size

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)


def render_page(
    page: str, partial: str | None = None, /, status: int = 200, **context: Any
) -> tuple[str, int]:
    """Render the full page, or only its partial when HTMX asks for that piece.

    The two names are positional-only so a page may pass any context name (`template`, a
    page about an email template, included)."""
    if partial and htmx and not htmx.boosted and not htmx.history_restore_request:
        return render_template(partial, **context), status
    return render_template(page, **context), status


def start_fresh_session() -> None:
    """Drop everything from the session before a login (no fixation); keep the language."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


def redirect_page(target: str) -> Response:
    """Go to another page: a plain redirect, or HX-Redirect so HTMX loads it whole."""
    if htmx:
        response = Response(status=200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def require_fresh_login() -> Response | None:
    """Ask for the password again before a change, when the session came from remember-me."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if request.method in ("GET", "HEAD") or login_fresh():
        return None
    if htmx:
        response = Response(status=401)
        response.headers["HX-Redirect"] = url_for(
            "accounts.login", next=request.referrer and urlsplit(request.referrer).path
        )
        return response
    return current_app.login_manager.needs_refresh()


def add_security_headers(response: Response) -> Response:
    """Apply CSP, framing, referrer and sniffing rules; keep private pages out of caches."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_user and current_user.is_authenticated:
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold private mail
    return response


class SecureCookiesOverHTTPS:
    """WSGI middleware: over HTTPS every cookie gets the Secure flag.

    It must wrap the whole app: Flask writes the session cookie, and flask-login the
    remember-me cookie, after every after_request hook has run.
    """

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("wsgi.url_scheme") != "https":
            return self.wsgi_app(environ, start_response)

        def secure_start_response(status: str, headers: list, *args: Any) -> Any:
            headers = [
                (name, f"{value}; Secure")
                if name.lower() == "set-cookie" and "; secure" not in value.lower()
                else (name, value)
                for name, value in headers
            ]
            return start_response(status, headers, *args)

        return self.wsgi_app(environ, secure_start_response)


def error_page(error: Any) -> tuple[str, int]:
    """Render 403/404/... with the site layout (no stack traces, no secrets)."""
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", code=code, error=error), code


def template_globals() -> dict[str, Any]:
    """Helpers every template can use (computed once per render)."""
    return {
        **page_gettext(),
        "format_datetime": DateFormatter(),
        "format_day": format_day,
        "format_decimal": format_decimal,
        "format_size": format_size,
        "get_locale": get_locale,
        "nav_active": g.get("nav_active"),
        "format_timedelta": format_timedelta,
    }


def init_app(app: Flask) -> None:
    """Register the request hooks, error pages and template helpers."""
    app.after_request(add_security_headers)
    app.wsgi_app = SecureCookiesOverHTTPS(app.wsgi_app)  # type: ignore[method-assign]
    app.context_processor(template_globals)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, error_page)
    app.register_error_handler(CSRFError, error_page)
