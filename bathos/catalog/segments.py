"""The cool tier: Parquet segments sorted by start time, and the manifest that names the live ones.

`runs/<project>/segments.manifest` lists the segments readers use. Compaction writes a new segment
under a name no manifest lists, then replaces the manifest atomically, then removes what it folded;
so a reader sees each run exactly once at any instant, and a crash leaves at worst an unlisted file
that the next compaction deletes. Without a manifest (deleted, or never written) every segment is
live and readers deduplicate by id.

A manifest names files in its own directory only: an entry that is a path, not a Parquet name, a
symlink out of the directory, or a repeat is ignored (and reported by `bth verify`). Compaction
removes only files it made (named by `segment_name`, not symlinks).

A segment another catalog sent (`bth sync`) arrives as `sync-<time>-<random>.parquet` (named by
`arrival_name`), renamed into place whole: it is live from that instant, without the manifest
naming it (a sync cannot take the compaction lock of a catalog on another host), and readers
deduplicate by id while any is present (the newest `updated_at` wins). Compaction folds arrivals
into a segment of its own and then removes them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path

from bathos.catalog import schema
from bathos.catalog.store import SEGMENT_SUFFIX
from bathos.errors import UnreadableFile
from bathos.fsutil import atomic_write_bytes

log = logging.getLogger("bathos.catalog")

MANIFEST = "segments.manifest"
_MAGIC = b"PAR1"
_ARRIVAL_NAME = re.compile(r"sync-[0-9T]{15}-[0-9a-f]{8}" + re.escape(SEGMENT_SUFFIX))
_OWN_NAME = re.compile(r"seg-[0-9A-Za-z.]{1,15}-[0-9a-f]{8}" + re.escape(SEGMENT_SUFFIX))
_LEGACY_RUN_FILE = re.compile(r"run_[0-9A-Fa-f-]{36}" + re.escape(SEGMENT_SUFFIX))


def manifest_path(directory: Path) -> Path:
    return directory / MANIFEST


def read_manifest(directory: Path) -> list[str] | None:
    """The live segment names, or None when there is no readable manifest."""
    entries = manifest_entries(directory)
    return None if entries is None else entries[0]


def manifest_entries(directory: Path) -> tuple[list[str], list[tuple[str, str]]] | None:
    """The manifest's usable names (each once, in order) and every entry ignored with the reason,
    or None when there is no readable manifest."""
    try:
        names = parse_manifest(manifest_path(directory).read_bytes())
    except OSError:
        return None
    if names is None:
        return None
    usable: dict[str, None] = {}
    ignored = []
    for name in names:
        why = "listed twice" if name in usable else _not_a_segment(directory, name)
        if why:
            ignored.append((name, why))
        else:
            usable[name] = None
    return list(usable), ignored


def parse_manifest(raw: bytes) -> list[str] | None:
    """The names a manifest's bytes list, or None when they are not a segment list."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    names = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


class IgnoredEntry(UnreadableFile):
    """A manifest entry readers ignore; quarantine rewrites the manifest without it."""

    def __init__(self, manifest: Path, name: str, why: str) -> None:
        self.name = name
        super().__init__(manifest, f"lists {name!r}, {why}")


def check_manifest(directory: Path) -> list[UnreadableFile]:
    """What readers make of a directory's manifest: each entry they ignore, or the manifest
    itself when it cannot be read (readers then use every segment)."""
    path = manifest_path(directory)
    entries = manifest_entries(directory)
    if entries is None:
        return [UnreadableFile(path, "not a segment list (readers use every segment)")
                ] if path.exists() else []
    return [IgnoredEntry(path, name, why) for name, why in entries[1]]


def _not_a_segment(directory: Path, name: str) -> str | None:
    """Why `name` cannot be a segment of `directory`, or None."""
    if "/" in name or "\0" in name or name.startswith(".") or not name:
        return "not a file name in the catalog (a manifest names files beside it)"
    if not name.endswith(SEGMENT_SUFFIX):
        return f"not a segment name (*{SEGMENT_SUFFIX})"
    path = directory / name
    if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(
            os.path.realpath(directory)):
        return "a symlink out of its directory"
    return None


def write_manifest(directory: Path, names: list[str]) -> None:
    body = json.dumps({"segments": sorted(names)}, indent=1).encode()
    atomic_write_bytes(manifest_path(directory), body)


def segment_files(directory: Path) -> list[Path]:
    """Every segment file present, listed or not (symlinks out of the catalog are none, nor are
    the run files the older bathos keeps in the same directories: `bth migrate --from-legacy`
    reads those)."""
    return sorted(p for p in directory.glob(f"*{SEGMENT_SUFFIX}")
                  if _not_a_segment(directory, p.name) is None and not is_legacy_file(p.name))


def is_legacy_file(name: str) -> bool:
    """Whether a file name is that of a run file of the older bathos (`run_<uuid>.parquet`),
    which may lie in the same directories (`bathos.catalog.legacy` reads them)."""
    return _LEGACY_RUN_FILE.fullmatch(name) is not None


def is_own(path: Path) -> bool:
    """Whether compaction made this file (so compaction may remove it)."""
    return _OWN_NAME.fullmatch(path.name) is not None and not path.is_symlink()


def arrival_name() -> str:
    """A new name for a segment another catalog sends: `sync-<UTC time>-<random>.parquet`."""
    import time

    return f"sync-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.urandom(4).hex()}" \
        f"{SEGMENT_SUFFIX}"


def is_arrival_name(name: str) -> bool:
    return _ARRIVAL_NAME.fullmatch(name) is not None


def arrivals(directory: Path) -> list[Path]:
    """The segments other catalogs sent that are in `directory` (live until compaction folds
    them in; never symlinks)."""
    return sorted(p for p in directory.glob(f"sync-*{SEGMENT_SUFFIX}")
                  if is_arrival_name(p.name) and not p.is_symlink())


def live_segments(directory: Path) -> tuple[list[Path], bool]:
    """The segments readers should use (those the manifest names, and arrivals), and whether they
    are known to hold each id once; each manifest entry ignored is warned about."""
    entries = manifest_entries(directory)
    if entries is None:
        return segment_files(directory), False
    names, ignored = entries
    for name, why in ignored:
        log.warning("ignoring %r in %s: %s", name, manifest_path(directory), why,
                    extra={"hint": UnreadableFile.hint})
    arrived = [p for p in arrivals(directory) if p.name not in names]
    return [directory / n for n in names if (directory / n).exists()] + arrived, not arrived


def readable_segments(directory: Path, skip: Collection[Path] = (),
                      problems: list[UnreadableFile] | None = None) -> tuple[list[Path], bool]:
    """`live_segments` less `skip` and less those truncated (added to `problems`)."""
    live, unique = live_segments(directory)
    found: list[Path] = []
    for seg in live:
        if seg in skip:
            continue
        if looks_complete(seg):
            found.append(seg)
        elif problems is not None:
            problems.append(UnreadableFile(seg, "truncated Parquet segment"))
    return found, unique


def looks_complete(path: Path) -> bool:
    """A cheap check that a Parquet file was not truncated: magic bytes at both ends."""
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(size - 4)
            tail = fh.read(4)
    except OSError:
        return False
    return head == _MAGIC and tail == _MAGIC


def damage(paths: list[Path], columns: Mapping[str, str] = schema.COLUMNS) -> dict[Path, str]:
    """Why each of `paths` cannot be read as a segment: cut short, or a Parquet file whose columns
    are not `columns` (by default those of the `runs` view; one such file makes a query of all of
    them fail)."""
    found = {p: "truncated Parquet segment" for p in paths if not looks_complete(p)}
    complete = [p for p in paths if p not in found]
    if not complete:
        return found
    import duckdb

    con = duckdb.connect(":memory:")
    wanted = {name: kind.replace('"', "") for name, kind in columns.items()}
    for path in complete:
        try:
            described = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({schema.sql_paths([path])})").fetchall()
        except duckdb.Error as exc:
            found[path] = f"unreadable Parquet segment ({str(exc).splitlines()[0]})"
            continue
        columns = {str(row[0]): str(row[1]).replace('"', "") for row in described}
        wrong = [name for name, kind in wanted.items() if columns.get(name) != kind]
        if wrong:
            found[path] = ("a Parquet file that is not a bathos segment (column "
                           f"{', '.join(wrong[:3])}{' …' if len(wrong) > 3 else ''} differs)")
    return found


def segment_name(first_started: str | None) -> str:
    stamp = (first_started or "0000").replace("-", "").replace(":", "").replace(" ", "T")[:15]
    return f"seg-{stamp}-{os.urandom(4).hex()}{SEGMENT_SUFFIX}"
