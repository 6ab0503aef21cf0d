"""Dates in the viewer's language and time zone, fast enough for long lists.

flask_babel.format_datetime resolves locale, zone and pattern on every call; lists show
hundreds of dates, so the parsed pattern is cached per (locale, format).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import (
    DateTimePattern,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from flask_babel import get_locale, get_timezone


@lru_cache(maxsize=64)
def pattern_for(locale: Locale, format: str) -> DateTimePattern:
    """The combined date-and-time pattern of a CLDR format ("short", "medium", ...)."""
    date = get_date_format(format, locale=locale).pattern
    time = get_time_format(format, locale=locale).pattern
    combined = get_datetime_format(format, locale=locale).replace("{1}", date).replace("{0}", time)
    return parse_pattern(combined)


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """Format a stored (UTC) time in the viewer's zone and language."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    locale = get_locale()
    return pattern_for(locale, format).apply(value.astimezone(get_timezone()), locale)
