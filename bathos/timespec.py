"""`--since`/`--until` values: a duration back from now (`30m`, `12h`, `7d`, `2w`) or a date."""

from __future__ import annotations

import datetime as dt
import re

from bathos.errors import InvalidTimeSpec

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


def parse_time(spec: str | dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC datetime for a duration ago or an ISO date/time (local time if no zone)."""
    if isinstance(spec, dt.datetime):
        return spec if spec.tzinfo else spec.astimezone()
    now = now or dt.datetime.now(dt.UTC)
    text = spec.strip().lower()
    match = _DURATION.match(text)
    if match:
        return now - dt.timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        parsed = dt.datetime.fromisoformat(spec.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTimeSpec(
            f"cannot read time {spec!r} (use a duration like 30m, 12h, 7d, 2w or a date like "
            "2026-11-01)"
        ) from None
    return (parsed if parsed.tzinfo else parsed.astimezone()).astimezone(dt.UTC)
