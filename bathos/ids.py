"""Run ids: 16 characters that sort by creation time (ms) and never collide in practice.

The first 9 characters encode the millisecond timestamp in Crockford base32, the last 7 are random
(35 bits), so ids created in the same millisecond on different nodes still differ. A run imported
from the older bathos keeps the id it had there, a UUID (`3f2a9c4e-8b7d-4a5f-9e3d-2c1b0a9f8e7d`),
so the links of other runs to it hold.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RUN_ID_LENGTH = 16
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_run_id(now_ms: int | None = None) -> str:
    """A new time-sortable run id, e.g. `1jd3kx8q2m7f4r9a`."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode(stamp, 9) + _encode(int.from_bytes(os.urandom(5)) >> 5, 7)


def is_run_id_prefix(text: str) -> bool:
    """The start of a run id, or of an imported run's UUID (hex digits and dashes)."""
    lowered = text.lower()
    return bool(text) and (all(c in _ALPHABET for c in lowered)
                           or all(c in "0123456789abcdef-" for c in lowered))


def is_run_id(text: str) -> bool:
    """A whole run id, or the UUID of an imported run (safe as a file name: it names fragments
    and scratch directories)."""
    if len(text) == RUN_ID_LENGTH:
        return all(c in _ALPHABET for c in text.lower())
    return _UUID.fullmatch(text) is not None
