"""Parameters and file paths read from a command line, best effort and without knowing its parser.

    >>> parse_params(["-N", "40", "--lr=-0.1", "--no-cuda", "model.depth=3", "--tag", "a",
    ...               "--tag", "b"])
    {'N': '40', 'lr': '-0.1', 'cuda': 'false', 'model.depth': '3', 'tag': ['a', 'b']}

A value is kept as the text it was given; `param_value` reads the typed value from that text, so
`0.020` and `0.02` are the same number to a query of old and new runs alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_EXTENSION = re.compile(r"\.(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{1,10}\Z")
# The numbers a param's text may spell, for Python and for DuckDB's regexp_full_match alike.
INTEGER = r"[+-]?[0-9]+"
NUMBER = r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))"
_INTEGER, _NUMBER = re.compile(INTEGER), re.compile(NUMBER)
# `-n5`, `-j4`, `-s0.04`: one letter with a number attached, as getopt reads it.
_ATTACHED = re.compile(r"([A-Za-z])([0-9]+(?:\.[0-9]+)?)\Z")
# A Hydra-style override: `key=value`, `+key=value`, `++key=value`, `~key` (a deletion).
_OVERRIDE = re.compile(r"(\+{0,2}|~)([A-Za-z0-9_][A-Za-z0-9_.\-]*)(?:(=)(.*))?\Z", re.DOTALL)


def parse_params(argv: Sequence[str]) -> dict[str, str | list[str]]:
    """Options and `key=value` overrides, by name (dashes made underscores), with their text.

    `--k v`, `--k=v`, `-k v`, `-k=v`, `-seed 7` (one dash, a whole word is one name), `-n5`;
    `--flag` is "true" and `--no-flag` makes flag "false". An option takes the next argument as
    its value unless that is an option itself or an override; `-` and negative numbers are
    values. `k=v`, `+k=v` and `++k=v` set k, `~k` removes it. A name given more than once has
    the list of its values. Parsing stops at `--`; other positional arguments are ignored.
    """
    found: dict[str, list[str]] = {}
    for key, value in _pairs(argv):
        if value is None:
            found.pop(key, None)
        else:
            found.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in found.items()}


def param_value(text: str) -> bool | int | float | str:
    """The typed value of a param's text: a number (`0.020`, `1e-3`, `-7`), `true`/`false` in any
    case, else the text itself."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def candidate_paths(argv: Sequence[str], cwd: Path) -> list[Path]:
    """Arguments that look like files, made absolute against `cwd`, without duplicates, in order.

    A path contains `/`, or ends in a file extension (`.csv`, `.parquet`, `.pt` …), or exists.
    The values of `--k=v` and of `key=value` overrides count; URLs, numbers, `cwd` itself and
    its parents do not. Pass the script's arguments, not the interpreter: `/usr/bin/python`
    looks like a path too. Symlinks are kept as named.
    """
    here = os.path.normpath(os.path.abspath(cwd))
    excluded = {here, *(str(parent) for parent in Path(here).parents)}
    found: dict[str, None] = {}
    for token in argv:
        for text in _path_texts(token, here):
            if _looks_like_path(text, here):
                path = os.path.normpath(os.path.join(here, text))
                if path not in excluded:
                    found[path] = None
    return [Path(path) for path in found]


def _pairs(argv: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(name, text) for each value the arguments give, in order; (name, None) for a deletion."""
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            return
        option = _option(token)
        if option is None:
            override = _override(token)
            if override is not None:
                yield override
            continue
        name, value = option
        if value is not None:
            yield _normalise(name), value
        elif name.startswith("no-") and len(name) > 3:
            yield _normalise(name[3:]), "false"
        elif i < len(argv) and _is_value(argv[i]):
            yield _normalise(name), argv[i]
            i += 1
        else:
            yield _normalise(name), "true"


def _option(token: str) -> tuple[str, str | None] | None:
    """An option's name (as written) and its attached value (`--k=v`, `-n5`), or None if `token`
    is not an option."""
    if not token.startswith("-") or _NUMBER.fullmatch(token):
        return None
    word = token[2:] if token.startswith("--") else token[1:]
    name, sep, value = word.partition("=")
    if not _KEY.match(name):
        return None
    if not sep and not token.startswith("--") and (attached := _ATTACHED.match(name)):
        return attached.group(1), attached.group(2)
    return name, value if sep else None


def _override(token: str) -> tuple[str, str | None] | None:
    """The name and value of a `key=value` override (None for `~key`), or None if not one."""
    match = _OVERRIDE.match(token)
    if match is None:
        return None
    prefix, name, sep, value = match.groups()
    if prefix == "~":
        return _normalise(name), None
    return (_normalise(name), value) if sep else None


def _normalise(key: str) -> str:
    return key.replace("-", "_")


def _is_value(token: str) -> bool:
    """Whether the argument after an option is its value."""
    return _option(token) is None and _override(token) is None


def _path_texts(token: str, cwd: str) -> Iterator[str]:
    """The parts of one argument that may name a file."""
    if token.startswith("-"):
        option = _option(token)
        if option is not None and option[1] is not None and "=" in token:
            yield option[1]  # `--k=v`, `-k=v`; not the number of `-n5`
        return
    override = _override(token)
    if override is not None and not _exists(token, cwd):
        if override[1] is not None:
            yield override[1]
        return
    yield token


def _looks_like_path(text: str, cwd: str) -> bool:
    if not text or "://" in text or "\0" in text or "\n" in text or _NUMBER.fullmatch(text):
        return False
    if "/" in text:
        return True
    stem, ext = os.path.splitext(text)
    return bool(stem and _EXTENSION.match(ext)) or _exists(text, cwd)


def _exists(text: str, cwd: str) -> bool:
    return os.path.lexists(os.path.join(cwd, text))
