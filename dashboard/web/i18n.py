"""Language and time zone of the person viewing a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import available_timezones

from flask import current_app, has_request_context, request, session
from flask_babel import get_translations
from flask_login import current_user
from jinja2 import pass_context

# Jinja's own "newstyle" wrappers (autoescape, %(name)s variables), the ones flask_babel uses.
from jinja2.ext import (
    _make_new_ngettext,
    _make_new_npgettext,
    _make_new_pgettext,
)
from markupsafe import Markup

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


def page_gettext() -> dict[str, Any]:
    """gettext and friends bound to the viewer's catalog, for one template render.

    flask_babel's template callables look the catalog up through the request context for
    every string; a list page translates about 40, so this is looked up once per page.
    """
    catalog = get_translations()
    gettext = newstyle_gettext(catalog.gettext)
    return {
        "gettext": gettext,
        "_": gettext,
        "ngettext": _make_new_ngettext(catalog.ngettext),
        "pgettext": _make_new_pgettext(catalog.pgettext),
        "npgettext": _make_new_npgettext(catalog.npgettext),
    }


def newstyle_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """Jinja's newstyle gettext (escaped, `%(name)s` filled in), minus the `%` formatting
    when there is nothing to format: a page has ~40 plain labels."""

    @pass_context
    def gettext(context: Any, message: str, /, **variables: Any) -> str:
        text = translate(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our own catalog, trusted (as in Jinja)
        if variables or "%" in text:  # "%%" still becomes "%", as in Jinja's version
            return text % variables
        return text

    return gettext
