r"""Text that was bytes: arguments, environment values, file names and paths that are not UTF-8.

Python hands such bytes over as lone surrogates (`b"caf\xe9"` reads as `"caf\udce9"`), which no
JSON reader accepts. The catalog stores each undecodable byte as the four characters `\xNN`
instead (`"caf\\xe9"`), so records stay valid UTF-8 and readable; `original_bytes` gives the bytes
back. (A string that already held a backslash, `x` and two hex digits reads back as that byte too.)
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    # U+DC80..U+DCFF is one undecodable byte (surrogateescape); any other lone surrogate is kept
    # as its code point.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escape_undecodable(text: str) -> str:
    r"""`text` with each undecodable byte written as `\xNN`: `"caf\udce9"` -> `"caf\\xe9"`."""
    return _SURROGATE.sub(_escape, text)


def escape_strings(value: Any) -> Any:
    """`value` (JSON data) with `escape_undecodable` applied to every string and key in it."""
    if isinstance(value, str):
        return escape_undecodable(value)
    if isinstance(value, dict):
        return {escape_undecodable(k) if isinstance(k, str) else k: escape_strings(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_strings(v) for v in value]
    return value


def original_bytes(text: str) -> bytes:
    r"""The bytes a recorded string stood for: `"caf\\xe9"` -> `b"caf\xe9"` (UTF-8 otherwise).

    >>> os.fsdecode(original_bytes(run.cwd))   # the path as the operating system names it
    """
    return _ESCAPED_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
