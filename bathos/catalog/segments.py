"""The cool tier: Parquet segments sorted by start time, and the manifest that names the live ones.

`runs/<project>/segments.manifest` lists the segments readers use. Compaction writes a new segment
under a name no manifest lists, then replaces the manifest atomically, then removes what it folded;
so a reader sees each run exactly once at any instant, and a crash leaves at worst an unlisted file
that the next compaction deletes. Without a manifest (deleted, or never written) every segment is
live and readers deduplicate by id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bathos.catalog.store import SEGMENT_SUFFIX
from bathos.fsutil import atomic_write_bytes

MANIFEST = "segments.manifest"
_MAGIC = b"PAR1"


def manifest_path(directory: Path) -> Path:
    return directory / MANIFEST


def read_manifest(directory: Path) -> list[str] | None:
    """The live segment names, or None when there is no readable manifest."""
    try:
        data = json.loads(manifest_path(directory).read_bytes())
    except (OSError, ValueError):
        return None
    names = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


def write_manifest(directory: Path, names: list[str]) -> None:
    body = json.dumps({"segments": sorted(names)}, indent=1).encode()
    atomic_write_bytes(manifest_path(directory), body)


def segment_files(directory: Path) -> list[Path]:
    """Every segment file present, listed or not."""
    return sorted(
        p for p in directory.glob(f"*{SEGMENT_SUFFIX}") if not p.name.startswith(".")
    )


def live_segments(directory: Path) -> tuple[list[Path], bool]:
    """The segments readers should use, and whether they are known to hold each id once."""
    names = read_manifest(directory)
    if names is None:
        return segment_files(directory), False
    return [directory / n for n in names if (directory / n).exists()], True


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


def segment_name(first_started: str | None) -> str:
    stamp = (first_started or "0000").replace("-", "").replace(":", "").replace(" ", "T")[:15]
    return f"seg-{stamp}-{os.urandom(4).hex()}{SEGMENT_SUFFIX}"
