"""The retention horizon rule (pure): how far back emails are kept, and where a search starts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dashboard.sync.rules import kept_by_retention, retention_horizon, window_start


@pytest.mark.parametrize(
    ("months", "now", "horizon"),
    [
        (None, datetime(2026, 12, 7, 19, 0, tzinfo=UTC), None),
        (0, datetime(2026, 12, 7, 19, 0, tzinfo=UTC), None),
        (1, datetime(2026, 12, 7, 19, 0, tzinfo=UTC), datetime(2026, 11, 7, tzinfo=UTC)),
        (6, datetime(2026, 12, 7, 0, 0, tzinfo=UTC), datetime(2026, 6, 7, tzinfo=UTC)),
        (12, datetime(2026, 1, 15, 8, 0, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC)),
        (13, datetime(2026, 1, 15, 8, 0, tzinfo=UTC), datetime(2024, 12, 15, tzinfo=UTC)),
        (1, datetime(2026, 3, 31, 12, 0, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (12, datetime(2024, 2, 29, 12, 0, tzinfo=UTC), datetime(2023, 2, 28, tzinfo=UTC)),
        (120, datetime(2026, 12, 7, 19, 0, tzinfo=UTC), datetime(2016, 12, 7, tzinfo=UTC)),
        # late evening in São Paulo is already the next day in UTC: the rule counts in UTC
        (
            1,
            datetime.fromisoformat("2026-12-06T22:30:00-03:00"),
            datetime(2026, 11, 7, tzinfo=UTC),
        ),
    ],
)
def test_the_horizon_is_midnight_utc_n_calendar_months_back(months, now, horizon):
    assert retention_horizon(months, now) == horizon


HORIZON = datetime(2026, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "horizon", "kept"),
    [
        (datetime(2026, 6, 6, 23, 59, 59, tzinfo=UTC), HORIZON, False),
        (datetime(2026, 6, 7, 0, 0, tzinfo=UTC), HORIZON, True),
        (datetime(2026, 6, 6, 23, 59, 59), HORIZON, False),  # naive: UTC, as stored
        (datetime.fromisoformat("2026-06-06T22:00:00-03:00"), HORIZON, True),  # 01:00 UTC
        (datetime(1970, 1, 1, tzinfo=UTC), None, True),  # no retention keeps everything
        (None, HORIZON, True),  # an unknown date is not judged here
    ],
)
def test_a_message_is_kept_from_the_horizon_on(when, horizon, kept):
    assert kept_by_retention(when, horizon) is kept


@pytest.mark.parametrize(
    ("since", "horizon", "start"),
    [
        (date(2026, 11, 7), HORIZON, date(2026, 11, 7)),  # the window is inside the retention
        (date(2025, 1, 1), HORIZON, date(2026, 6, 7)),  # a longer window stops at the horizon
        (date(2025, 1, 1), None, date(2025, 1, 1)),
    ],
)
def test_a_search_never_reaches_past_the_horizon(since, horizon, start):
    assert window_start(since, horizon) == start
