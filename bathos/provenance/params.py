"""Parameters and file paths read from a command line, best effort and without knowing its parser.

    >>> parse_params(["--lr", "-0.1", "--n-steps=1000", "--no-cuda", "--verbose"])
    {'lr': '-0.1', 'n_steps': '1000', 'cuda': 'false', 'verbose': 'true'}

Only long options count: `-k v` is too ambiguous (`-vx`, `-o file`, `-1`) to read as parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_EXTENSION = re.compile(r"\.(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{1,10}\Z")


def parse_params(argv: Sequence[str]) -> dict[str, str]:
    """`--k v`, `--k=v`, `--flag` ("true") and `--no-flag` (flag="false"), keys with `_` for `-`.

    A following token is the option's value unless it is itself an option; `-` and negative
    numbers (`--lr -0.1`) are values. `--no-x` never takes a value. Parsing stops at `--`; a
    repeated key keeps its last value. Positional arguments and short options are ignored.
    """
    params: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            break
        if not token.startswith("--"):
            continue
        key, sep, value = token[2:].partition("=")
        if not _KEY.match(key):
            continue
        if sep:
            params[_normalise(key)] = value
        elif key.startswith("no-") and len(key) > 3:
            params[_normalise(key[3:])] = "false"
        elif i < len(argv) and _is_value(argv[i]):
            params[_normalise(key)] = argv[i]
            i += 1
        else:
            params[_normalise(key)] = "true"
    return params


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


def _normalise(key: str) -> str:
    return key.replace("-", "_")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_value(token: str) -> bool:
    return not token.startswith("-") or token == "-" or _is_number(token)


def _path_texts(token: str, cwd: str) -> Iterator[str]:
    """The parts of one argument that may name a file."""
    if token.startswith("-"):
        _, sep, value = token.partition("=")
        if token.startswith("--") and sep:
            yield value
        return
    key, sep, value = token.partition("=")
    if sep and _KEY.match(key) and not _exists(token, cwd):  # a `key=value` override
        yield value
        return
    yield token


def _looks_like_path(text: str, cwd: str) -> bool:
    if not text or "://" in text or "\0" in text or "\n" in text or _is_number(text):
        return False
    if "/" in text:
        return True
    stem, ext = os.path.splitext(text)
    return bool(stem and _EXTENSION.match(ext)) or _exists(text, cwd)


def _exists(text: str, cwd: str) -> bool:
    return os.path.lexists(os.path.join(cwd, text))
