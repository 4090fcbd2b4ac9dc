"""Compaction: fold finished hot fragments into sorted Parquet segments, and merge small segments.

Safe while writers write (only finished or lost runs are folded, and a fragment is removed only if
it is still the file that was folded) and while another compactor runs (an exclusive `flock` on
`catalog/.compact.lock`; the kernel releases it when a compactor dies, so a crash leaves no stale
lock). Order of work: write the segment under an unlisted name, replace the manifest, keep the
newest rows for listings (`recent`), then remove the folded fragments. A crash at any instant loses
nothing and shows no run twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.catalog import recent, schema, segments, store
from bathos.errors import CompactionBusy
from bathos.fsutil import commit_file, temp_name

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("bathos.catalog")

LOCK_NAME = ".compact.lock"
# Segments below this size are merged once there are MERGE_AT of them.
SMALL_SEGMENT_BYTES = 64 * 1024 * 1024
MERGE_AT = 8
# Small row groups let a query for the newest runs decompress little beyond them.
ROW_GROUP_SIZE = 16_384

Progress = Callable[[int, int], None]


@attrs.frozen
class CompactionReport:
    """What one compaction did."""

    folded: int = 0
    segments_written: int = 0
    segments_merged: int = 0
    skipped_unreadable: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def compaction_lock(catalog: Path, *, wait: bool) -> Iterator[None]:
    """Hold the catalog's compaction lock; raise CompactionBusy if taken and not waiting."""
    catalog.mkdir(parents=True, exist_ok=True)
    fd = os.open(catalog / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise CompactionBusy(
                f"another process is compacting {catalog} (wait for it, or run bth compact later)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.uname().nodename} {os.getpid()} {time.time():.0f}\n".encode())
        yield
    finally:
        os.close(fd)


def _write_segment(con: duckdb.DuckDBPyConnection, select_sql: str, params: list[object],
                   directory: Path,
                   first_started: str | None) -> Path:
    final = directory / segments.segment_name(first_started)
    tmp = temp_name(final)
    target = str(tmp).replace("'", "''")
    con.execute(
        f"COPY ({select_sql}) TO '{target}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})",
        params,
    )
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    commit_file(tmp, final)
    return final


Folded = tuple[Path, os.stat_result, schema.Record]


def _foldable(directory: Path, now: float) -> tuple[list[Folded], int]:
    """Hot fragments of finished (or lost) runs, with the stat seen when read."""
    picked, unreadable = [], 0
    for path in store.iter_fragment_paths(directory):
        try:
            record, stat = store.read_fragment(path)
        except FileNotFoundError:
            continue
        except store.UnreadableFile:
            unreadable += 1
            continue
        record = store.settle_status(record, stat.st_mtime, now)
        if record.get("status") != "running":
            picked.append((path, stat, record))
    return picked, unreadable


def _remove_if_unchanged(path: Path, seen: os.stat_result) -> None:
    """Remove a folded fragment unless a writer replaced it since it was read."""
    if store.is_unchanged(path, seen):
        path.unlink(missing_ok=True)


def _collect_garbage(directory: Path, live: list[str]) -> None:
    """Remove unlisted segments and temporary files left by a crashed compactor or writer."""
    for path in segments.segment_files(directory):
        if path.name not in live and segments.is_own(path):
            path.unlink(missing_ok=True)
    for fold in directory.glob(".fold-*"):  # only exists while a compactor holds the lock
        fold.unlink(missing_ok=True)
    cutoff = time.time() - 3600
    for tmp in directory.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    row = con.execute(query).fetchone()
    return row[0] if row else None


def compact_project(directory: Path, *, on_progress: Progress | None = None) -> CompactionReport:
    """Compact one project directory; the caller holds the compaction lock."""
    import duckdb

    started = time.perf_counter()
    live = segments.read_manifest(directory)
    rebuild = live is None and bool(segments.segment_files(directory))
    if live is None:
        live = [p.name for p in segments.segment_files(directory)] if rebuild else []
    _collect_garbage(directory, live)
    picked, unreadable = _foldable(directory, time.time())
    if on_progress:
        on_progress(len(picked), len(picked))
    damaged = segments.damage([directory / n for n in live])
    live_paths = [directory / n for n in live if directory / n not in damaged]
    small = [p for p in live_paths if p.stat().st_size < SMALL_SEGMENT_BYTES]
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=directory, prefix=".fold-") as fh:
        # json.dumps, not json.dump: dump streams through the pure-Python encoder, ~20x slower
        fh.write(json.dumps([schema.flatten(r) for _, _, r in picked], separators=(",", ":")))
        fh.flush()
        structure = schema.json_structure().replace("'", "''")
        con.execute(
            "CREATE TEMP TABLE new AS SELECT unnest(from_json(j, "
            f"'{structure}'), recursive := true) FROM read_text(?) AS t(filename, j, size, mtime)",
            [fh.name],
        )
    overlap = bool(picked) and bool(live_paths) and _scalar(
        con, f"SELECT count(*) FROM read_parquet({schema.sql_paths(live_paths)}) "
        "WHERE id IN (SELECT id FROM new)") > 0
    merge = list(live_paths) if (rebuild or overlap) else (small if len(small) >= MERGE_AT else [])
    if not picked and not merge:
        if recent.read_recent(directory, live) is None:
            recent.write_recent(con, directory, live)
        return CompactionReport(skipped_unreadable=unreadable)
    sources = "SELECT * FROM new"
    if merge:
        sources += (f" UNION ALL SELECT {', '.join(schema.COLUMNS)} "
                    f"FROM read_parquet({schema.sql_paths(merge)})")
    select = (
        f"SELECT * FROM ({sources}) "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1 "
        "ORDER BY started_at"
    )
    first = _scalar(con, f"SELECT min(started_at)::VARCHAR FROM ({sources})")
    new_segment = _write_segment(con, select, [], directory, first)
    kept = [n for n in live if directory / n not in merge]
    segments.write_manifest(directory, [*kept, new_segment.name])
    recent.write_recent(con, directory, [*kept, new_segment.name])
    for path, stat, _ in picked:
        _remove_if_unchanged(path, stat)
    for path in merge:
        if segments.is_own(path):
            path.unlink(missing_ok=True)
    return CompactionReport(
        folded=len(picked), segments_written=1, segments_merged=len(merge),
        skipped_unreadable=unreadable, seconds=time.perf_counter() - started,
    )


def compact(catalog: Path, *, wait: bool = True,
            on_progress: Progress | None = None) -> CompactionReport:
    """Compact every project of the catalog under the compaction lock."""
    started = time.perf_counter()
    total = CompactionReport()
    with compaction_lock(catalog, wait=wait):
        for directory in store.project_dirs(catalog):
            r = compact_project(directory, on_progress=on_progress)
            total = CompactionReport(
                folded=total.folded + r.folded,
                segments_written=total.segments_written + r.segments_written,
                segments_merged=total.segments_merged + r.segments_merged,
                skipped_unreadable=total.skipped_unreadable + r.skipped_unreadable,
            )
    return attrs.evolve(total, seconds=time.perf_counter() - started)
