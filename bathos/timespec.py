"""Times as users give them and as records keep them.

`--since`/`--until` values are a duration back from now (`30m`, `12h`, `7d`, `2w`) or a date, in
the user's local time unless it names a zone. Records and the catalog's columns keep UTC: ISO-8601
text ending in `Z`, and naive datetimes that mean UTC.
"""

from __future__ import annotations

import datetime as dt
import re

from bathos.errors import InvalidTimeSpec

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


def parse_time(spec: str | dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC datetime for a duration back from `now`, an ISO date/time or a datetime.

    A date or time without a zone is the user's local time, as a clock on their wall reads it:
    `2026-11-01` in Berlin is 2026-10-31 23:00 UTC.
    """
    if isinstance(spec, dt.datetime):
        return _utc(spec)
    text = spec.strip().lower()
    match = _DURATION.match(text)
    if match:
        since = dt.timedelta(seconds=float(match[1]) * _UNITS[match[2]])
        return (dt.datetime.now(dt.UTC) if now is None else _utc(now)) - since
    try:
        parsed = dt.datetime.fromisoformat(spec.strip())
    except ValueError:
        raise InvalidTimeSpec(
            f"cannot read time {spec!r} (use a duration like 30m, 12h, 7d, 2w or a date like "
            "2026-11-01)"
        ) from None
    return _utc(parsed)


def _utc(value: dt.datetime) -> dt.datetime:
    """`value` in UTC; a naive one is taken as local time."""
    return as_utc(value if value.tzinfo else value.astimezone())


def as_utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime; a naive one already means UTC, as stored times do."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def iso_utc(value: dt.datetime) -> str:
    """`value` as records keep times: ISO-8601 in UTC with `Z` (`2026-11-01T09:30:00Z`); a naive
    value means UTC."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_iso_utc(text: str) -> dt.datetime:
    """ISO-8601 text as an aware UTC datetime: `Z`, an offset, or none for UTC. ValueError when it
    is no time, or one UTC cannot hold (`0001-01-01T00:00+01:00`)."""
    try:
        return as_utc(dt.datetime.fromisoformat(text))
    except OverflowError as exc:
        raise ValueError(f"{text!r} is out of range in UTC") from exc
