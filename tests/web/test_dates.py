"""The fast date formatter writes exactly what babel writes, in every language and zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_datetime as babel_format_datetime

from dashboard.web.dates import as_zoneinfo, format_in


@pytest.mark.parametrize("language", ["pt_BR", "en", "de", "ja", "ar"])
@pytest.mark.parametrize("format", ["short", "medium", "long", "full"])
def test_same_text_as_babel(language: str, format: str) -> None:
    locale, chance = Locale.parse(language), random.Random(f"{language}-{format}")
    for zone in ("America/Sao_Paulo", "Asia/Tokyo", "UTC", "America/New_York"):
        for _ in range(50):
            moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
                seconds=chance.randrange(40 * 365 * 86400)
            )
            expected = babel_format_datetime(moment, format, tzinfo=ZoneInfo(zone), locale=locale)
            assert format_in(locale, ZoneInfo(zone), moment, format) == expected


def test_naive_times_are_utc_and_none_is_empty() -> None:
    locale, zone = Locale.parse("pt_BR"), ZoneInfo("America/Sao_Paulo")
    assert format_in(locale, zone, datetime(2025, 3, 4, 15, 6), "short") == "04/03/2025 12:06"
    assert format_in(locale, zone, None, "short") == ""


def test_pytz_zones_become_zoneinfo_and_unknown_ones_stay() -> None:
    import pytz

    assert as_zoneinfo(pytz.timezone("Asia/Tokyo")) == ZoneInfo("Asia/Tokyo")
    odd = pytz.FixedOffset(90)
    assert as_zoneinfo(odd) is odd


@pytest.mark.parametrize(
    ("language", "expected"),
    [("pt_BR", "4 de mar. de 2025 12:06"), ("en", "Mar 4, 2025, 12:06\u202fPM")],
)
def test_an_email_date_reads_to_the_minute(language: str, expected: str) -> None:
    moment = datetime(2025, 3, 4, 15, 6, 42, tzinfo=UTC)
    text = format_in(Locale.parse(language), ZoneInfo("America/Sao_Paulo"), moment, "message")
    assert text == expected
