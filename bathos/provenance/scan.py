"""The tree scan: files under a run's directories that were created or modified while it ran.

    found = changed_files([cwd, root], since_ns=marker_ns, rules=Rules(skipped=...))
    found.paths, found.visited, found.capped

It sees what any command writes, Python or not, but not what it only reads. The walk is breadth
first (files near the roots first) and bounded: at most `MAX_ENTRIES` directory entries and
`MAX_SECONDS`, so a run started in a home directory costs a bounded time, and says it stopped.
A file counts when its mtime or ctime is at or after `since_ns`, read in the file system's own
clock (the caller passes the mtime of a directory made when the run started): a copy that keeps
an old mtime still gets a new ctime, and on a file system with coarse timestamps a file written
in the run's first tick is not missed.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

from bathos.ids import is_run_id

# benchmarks/bench_scan.py: ~0.5 s for 100,000 files on a 2-core machine (docs/running.md).
MAX_ENTRIES = 100_000
MAX_SECONDS = 1.0
MAX_CHANGED = 2000
# Never entered (nor observed): version control and caches of tools, by name.
SKIPPED_NAMES = frozenset({".git", ".hg", ".svn", "__pycache__", ".cache", ".mypy_cache",
                           ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox",
                           ".ipynb_checkpoints"})
# A directory holding one of these is a Python environment (virtualenv, venv, conda).
ENV_MARKERS = ("pyvenv.cfg", "conda-meta")
_CLOCK_EVERY = 256  # entries between two looks at the clock


@attrs.frozen
class Rules:
    """What the walk leaves out besides `SKIPPED_NAMES` and Python environments: `skipped`
    directories (absolute: the catalog, `$BTH_HOME`), every run directory in `outputs_dir` but
    `own_run`'s, and `exclude` globs (`.bth.toml [capture] exclude`, see `excluder`)."""

    skipped: frozenset[str] = frozenset()
    outputs_dir: str | None = None
    own_run: str = ""
    exclude: tuple[str, ...] = ()
    exclude_root: str = ""


@attrs.frozen
class Scan:
    """What a walk found, in path order; `capped` names the cap that stopped it (entries, time or
    files), None when it saw everything."""

    paths: tuple[Path, ...]
    visited: int
    seconds: float
    capped: str | None = None


def excluder(patterns: Sequence[str], root: str) -> Callable[[str], bool] | None:
    """A test of absolute paths against globs: a glob with `/` is matched against the path
    relative to `root` (`data/raw`, `runs/*/tmp`), one without against each name (`*.tmp`,
    `wandb`); a directory that matches is left out with all it holds. None without globs."""
    if not patterns:
        return None
    import fnmatch

    def joined(globs: Iterable[str]) -> re.Pattern[str] | None:
        parts = [fnmatch.translate(g.strip("/")) for g in globs]
        return re.compile("|".join(parts)) if parts else None

    by_name = joined(p for p in patterns if "/" not in p.strip("/"))
    by_path = joined(p for p in patterns if "/" in p.strip("/"))
    prefix = os.path.join(root, "")

    def excluded(path: str) -> bool:
        if by_name is not None and by_name.match(os.path.basename(path)):
            return True
        return by_path is not None and path.startswith(prefix) and \
            by_path.match(path[len(prefix):].replace(os.sep, "/")) is not None

    return excluded


def changed_files(roots: Sequence[Path], since_ns: int, rules: Rules = Rules(), *,
                  max_entries: int = MAX_ENTRIES, max_seconds: float = MAX_SECONDS,
                  max_changed: int = MAX_CHANGED) -> Scan:
    """Regular files under `roots` (walked in that order, each directory once, by its real path)
    whose mtime or ctime is at or after `since_ns`. Symbolic links are not followed; unreadable
    directories are passed over."""
    started = time.monotonic()
    deadline = started + max_seconds
    excluded = excluder(rules.exclude, rules.exclude_root)
    queue = deque(dict.fromkeys(os.path.realpath(r) for r in roots if os.path.isdir(r)))
    seeded = frozenset(queue)
    found: list[Path] = []
    visited = 0
    capped: str | None = None
    while queue and capped is None:
        directory = queue.popleft()
        try:
            listing = os.scandir(directory)
        except OSError:
            continue
        with listing:
            for entry in listing:
                visited += 1
                if visited > max_entries:
                    capped = "entries"
                elif visited % _CLOCK_EVERY == 0 and time.monotonic() > deadline:
                    capped = "time"
                if capped:
                    break
                path = entry.path
                if excluded is not None and excluded(path):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if path not in seeded and _is_walked(path, entry.name, directory, rules):
                            queue.append(path)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and (st.st_mtime_ns >= since_ns or
                                                 st.st_ctime_ns >= since_ns):
                    found.append(Path(path))
                    if len(found) >= max_changed:
                        capped = "files"
                        break
    return Scan(tuple(sorted(found)), min(visited, max_entries),
                round(time.monotonic() - started, 6), capped)


def _is_walked(path: str, name: str, parent: str, rules: Rules) -> bool:
    if name in SKIPPED_NAMES or path in rules.skipped:
        return False
    if parent == rules.outputs_dir and name != rules.own_run and is_run_id(name):
        return False  # another run's output directory
    return not any(os.path.exists(os.path.join(path, marker)) for marker in ENV_MARKERS)
