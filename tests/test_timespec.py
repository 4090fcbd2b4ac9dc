"""Times as users give them (`--since`/`--until`: aware UTC out, local time when no zone is given)
and as records keep them (UTC text ending in Z; no zone means UTC)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest

from bathos.errors import InvalidTimeSpec
from bathos.timespec import iso_utc, parse_iso_utc, parse_time

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def in_berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time is Berlin's (UTC+1 in November)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_date_without_a_zone_is_local_time(in_berlin: None) -> None:
    assert parse_time("2026-11-01") == dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert parse_time("2026-11-01T09:30") == dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert parse_time(dt.datetime(2026, 11, 1)) == dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("spec", [
    "2026-11-01T09:30Z", "2026-11-01T09:30+00:00", "2026-11-01T10:30+01:00",
    dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
])
def test_a_time_with_a_zone_is_that_instant_in_utc(spec: str | dt.datetime,
                                                   in_berlin: None) -> None:
    parsed = parse_time(spec)

    assert parsed == dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("spec", "ago"), [
    ("30m", dt.timedelta(minutes=30)), ("12h", dt.timedelta(hours=12)),
    ("7d", dt.timedelta(days=7)), ("2w", dt.timedelta(weeks=2)), ("1.5h", dt.timedelta(hours=1.5)),
])
def test_a_duration_is_that_long_before_now(spec: str, ago: dt.timedelta) -> None:
    parsed = parse_time(spec, now=NOW)

    assert parsed == NOW - ago
    assert parsed.tzinfo is UTC


def test_every_result_is_aware_utc(in_berlin: None) -> None:
    for spec in ("2026-11-01", "7d", dt.datetime(2026, 11, 1), "2026-11-01T10:30+05:00"):
        assert parse_time(spec, now=dt.datetime(2026, 11, 10, 13, 0)).tzinfo is UTC


def test_an_unreadable_time_says_what_is_accepted() -> None:
    with pytest.raises(InvalidTimeSpec, match=r"'last tuesday'.*30m, 12h, 7d, 2w.*2026-11-01"):
        parse_time("last tuesday")


def test_records_keep_utc_text_ending_in_z(in_berlin: None) -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))

    assert iso_utc(dt.datetime(2026, 11, 1, 9, 30)) == "2026-11-01T09:30:00Z"  # naive is UTC
    assert iso_utc(dt.datetime(2026, 11, 1, 10, 30, tzinfo=plus_one)) == "2026-11-01T09:30:00Z"
    for text in ("2026-11-01T09:30:00Z", "2026-11-01T09:30:00", "2026-11-01T10:30:00+01:00"):
        parsed = parse_iso_utc(text)
        assert (parsed, parsed.tzinfo) == (dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC), UTC)
        assert iso_utc(parsed) == "2026-11-01T09:30:00Z"


@pytest.mark.parametrize("text", ["last tuesday", "0001-01-01T00:00:00+01:00"])
def test_stored_text_that_is_no_utc_time_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(text)):
        parse_iso_utc(text)
