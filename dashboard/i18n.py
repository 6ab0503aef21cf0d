"""Language and time zone of the person viewing a page."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import current_app, has_request_context, request, session
from flask_login import current_user

LANGUAGE_NAMES = {"pt_BR": "Português (Brasil)", "en": "English"}


def select_locale() -> str:
    """The user's profile language, else the one chosen this session, else the browser's."""
    supported = list(current_app.config["LANGUAGES"])
    if not has_request_context():  # CLI commands speak the default language
        return supported[0]
    if current_user and current_user.is_authenticated and current_user.language in supported:
        return current_user.language
    if session.get("language") in supported:
        return session["language"]
    # Accept-Language says "pt-BR"; werkzeug compares tags with "-" and "_" as equals.
    return request.accept_languages.best_match(supported) or supported[0]


def select_timezone() -> str:
    """The user's profile time zone, else the instance default."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def timezone_choices() -> list[str]:
    """Every IANA time zone name, sorted, for the profile form."""
    return sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC")
