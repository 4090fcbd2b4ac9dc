"""What a Python script run through the bootstrap was seen to do: the files it read and wrote, and
the parameters its parser parsed.

    observed = read_report(scratch / REPORT_FILE)
    inputs, outputs = observed.files(since_ns=…, excluded=Exclusions(…))

The bootstrap (`bootstrap.py` beside this module, run by path in the project's interpreter)
writes the report; it is read here as untrusted input: a line that does not parse is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bathos.provenance.scan import SKIPPED_NAMES

log = logging.getLogger("bathos.provenance.observation")

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
REPORT_FILE = "files.report"
MAX_OBSERVED = 2000  # inputs, and outputs, recorded from one report
_SYSTEM = ("/proc/", "/sys/", "/dev/", "/etc/")


class Exclusions:
    """Files never recorded as observed inputs or outputs: those under `prefixes` (bathos's own
    catalog and scratch files), the system's (/proc, /sys, /dev, /etc), version control and
    caches (the tree scan's `SKIPPED_NAMES`, $XDG_CACHE_HOME), those `glob` matches
    (`[capture] exclude`, see `scan.excluder`), and `known` files (real paths: the run's code,
    files already recorded)."""

    # Plain classes, not attrs: this module is imported on every run, and an attrs class costs
    # half a millisecond to make.
    def __init__(self, prefixes: tuple[str, ...] = (), known: frozenset[str] = frozenset(),
                 glob: Callable[[str], bool] | None = None) -> None:
        self.prefixes, self.known, self.glob = prefixes, known, glob

    def __contains__(self, path: str) -> bool:
        if path.startswith(self.prefixes) or not SKIPPED_NAMES.isdisjoint(path.split("/")):
            return True
        if self.glob is not None and self.glob(path):
            return True
        return os.path.realpath(path) in self.known


def own_prefixes(*directories: Path) -> tuple[str, ...]:
    """Directory prefixes (as named and resolved) of the system's and bathos's own files."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    dirs = {os.path.abspath(d) for d in (*map(str, directories), cache)}
    dirs |= {os.path.realpath(d) for d in dirs}
    return (*_SYSTEM, *(os.path.join(d, "") for d in sorted(dirs)))


class Observation:
    """Each path the script touched (absolute, normalised) with its mode letters (`rwdmpi`: read,
    written, deleted or renamed away, moved here, named by a parsed parameter, imported), and
    the parameters its argparse or Click parser parsed, defaults included."""

    def __init__(self, modes: dict[str, str] | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self.modes: dict[str, str] = modes or {}
        self.params: dict[str, Any] = params or {}

    def files(self, *, since_ns: int, excluded: Exclusions) -> tuple[list[Path], list[Path]]:
        """Inputs (read, or named by a parameter, and unchanged since `since_ns`, the run's
        start in the file system's clock) and outputs (regular files created or modified since
        then, or moved into place), in the order the script first touched them, each capped at
        MAX_OBSERVED."""
        inputs: list[Path] = []
        outputs: list[Path] = []
        for path, modes in self.modes.items():
            if "i" in modes or path in excluded:
                continue  # a module's file is code, recorded (if local) by the dependency scan
            try:
                st = os.stat(path)
            except OSError:
                continue  # deleted, renamed away, or never there (a failed open)
            if not stat.S_ISREG(st.st_mode):
                continue
            changed = st.st_mtime_ns >= since_ns or (
                not set(modes).isdisjoint("wm") and st.st_ctime_ns >= since_ns)
            if changed:
                outputs.append(Path(path))
            elif not set(modes).isdisjoint("rp"):
                inputs.append(Path(path))
        return _capped(inputs, "read"), _capped(outputs, "wrote")


def _capped(paths: list[Path], verb: str) -> list[Path]:
    if len(paths) > MAX_OBSERVED:
        log.warning("the script %s %d files: recorded the first %d", verb, len(paths),
                    MAX_OBSERVED)
    return paths[:MAX_OBSERVED]


def read_report(path: Path) -> Observation:
    """The report the bootstrap wrote; an empty Observation when there is none."""
    try:
        raw = path.read_bytes()
    except OSError:
        return Observation()
    return parse_report(raw.decode("utf-8", "surrogateescape").splitlines())


_LETTERS = "rwdmpi"  # READ, WRITE, DELETE, MOVED, NAMED, IMPORTED: bits 1 to 32 of a code


def parse_report(lines: Iterable[str]) -> Observation:
    """The observation in the report's lines (see `observer.py`); what does not parse is
    skipped, and so are the interpreter's own files and paths relative to no known directory."""
    modes: dict[str, str] = {}
    params: dict[str, Any] = {}
    own: list[str] = []
    cwd = ""
    lines = iter(lines)
    for line in lines:
        tag, sep, payload = line.partition("\t")
        if tag == "@" and sep:
            cwd = payload if payload.startswith("/") else ""
        elif tag == "x" and payload.startswith("/"):
            own.append(os.path.join(payload, ""))
        elif tag == "=" and sep:
            params.update(_params(payload))
        elif tag == "#" and sep:
            # a killed script's last batch may be short
            for code, path_line in zip(payload, lines, strict=False):
                path = _path(path_line, cwd)
                bits = ord(code) - 48
                if path is not None and 0 < bits < 64:
                    path = os.path.normpath(path)
                    letters = {c for i, c in enumerate(_LETTERS) if bits & (1 << i)}
                    modes[path] = "".join(sorted(set(modes.get(path, "")) | letters))
    kept = {path: m for path, m in modes.items() if not path.startswith(tuple(own))}
    return Observation(kept, params)


def _path(payload: str, cwd: str) -> str | None:
    """The absolute path a line names, or None."""
    if payload.startswith('"'):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, str) or not payload:
        return None
    if payload.startswith("/"):
        return payload
    return os.path.join(cwd, payload) if cwd else None


def _params(payload: str) -> dict[str, Any]:
    try:
        values = json.loads(payload)
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def param_text(value: Any) -> str | list[str]:
    """A parsed parameter as the text a run records: `true`/`false` as argv flags give them,
    numbers and text as they are, a list as the list of its items' texts."""
    if isinstance(value, list):
        return [_text(item) for item in value]
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
