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
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.catalog import lens, metrics, recent, schema, segments, store
from bathos.errors import CompactionBusy, UnreadableFile
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
# Records sorted at a time into a new segment, and DuckDB's memory while compacting.
CHUNK_BYTES = 64 * 1024 * 1024
MEMORY_LIMIT = "512MB"
# The newest row of each id; at equal updated_at the hot one (tier 0).
_NEWEST = lens.newest_of_each_run(tiebreak="tier")

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
                f"another process is compacting {catalog} (wait for it, or compact again later)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.uname().nodename} {os.getpid()} {time.time():.0f}\n".encode())
        yield
    finally:
        os.close(fd)


def copy_parquet(con: duckdb.DuckDBPyConnection, select_sql: str, params: list[object],
                 target: Path) -> None:
    """Write the rows of `select_sql` to the Parquet file `target` as segments are written."""
    con.execute(
        f"COPY ({select_sql}) TO {schema.sql_string(target)} "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})",
        params,
    )


def write_segment(con: duckdb.DuckDBPyConnection, sources: str, directory: Path,
                   scratch: Path) -> Path:
    """Write the newest row of each id in `sources` (tier 0 wins a tie) as one new segment
    sorted by start time, sorting at most CHUNK_BYTES of records at a time: DuckDB cannot spill a
    sort of long strings to disk, so one sort of them all could need the whole fold in memory."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pick AS SELECT id, started_at, "
        "(sum(size) OVER (ORDER BY started_at, id ROWS UNBOUNDED PRECEDING) "
        f"// {CHUNK_BYTES})::BIGINT AS chunk FROM (SELECT id, started_at, "
        f"strlen(record::VARCHAR) AS size FROM ({sources}) {_NEWEST})"
    )
    chunks = con.execute(
        "SELECT chunk, min(started_at), max(started_at), bool_or(started_at IS NULL), "
        "min(started_at)::VARCHAR FROM pick GROUP BY chunk ORDER BY chunk").fetchall()
    chunks = chunks or [(0, None, None, False, None)]  # merged segments without rows
    final = directory / segments.segment_name(chunks[0][4])
    tmp = temp_name(final)
    sorted_parts = [tmp]
    if len(chunks) > 1:
        scratch.mkdir(parents=True, exist_ok=True)
        sorted_parts = [scratch / f"sorted-{n:05d}.parquet" for n in range(len(chunks))]
    for (chunk, low, high, nulls, _), part in zip(chunks, sorted_parts, strict=True):
        # The started_at bounds let Parquet skip row groups of sorted segments being merged.
        copy_parquet(con, f"SELECT {', '.join(schema.COLUMNS)} FROM ({sources}) "
              "WHERE id IN (SELECT id FROM pick WHERE chunk = ?) "
              "AND (started_at BETWEEN ? AND ? OR (? AND started_at IS NULL)) "
              f"{_NEWEST} ORDER BY started_at, id", [chunk, low, high, nulls], part)
    if len(chunks) > 1:  # read back in order: one streaming pass, no sort
        copy_parquet(con, f"SELECT * FROM read_parquet({schema.sql_paths(sorted_parts)})", [],
                     tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    commit_file(tmp, final)
    return final


def _foldable(directory: Path, now: float,
              unreadable: list[Path]) -> Iterator[tuple[Path, os.stat_result, schema.Record]]:
    """Hot fragments of finished (or lost) runs, with the stat seen when read, one at a time;
    unreadable ones are appended to `unreadable`."""
    for path in store.iter_fragment_paths(directory):
        try:
            record, stat = store.read_fragment(path)
        except FileNotFoundError:
            continue
        except UnreadableFile:
            unreadable.append(path)
            continue
        record = store.settle_status(record, stat.st_mtime, now)
        if record.get("status") != "running":
            yield path, stat, record


def _remove_if_unchanged(path: Path, seen: os.stat_result) -> None:
    """Remove a folded fragment unless a writer replaced it since it was read."""
    if store.is_unchanged(path, seen):
        path.unlink(missing_ok=True)


def _collect_garbage(directory: Path, live: list[str]) -> None:
    """Remove unlisted segments and temporary files left by a crashed compactor or writer."""
    for path in segments.segment_files(directory):
        if path.name not in live and segments.is_own(path):
            path.unlink(missing_ok=True)
    for fold in directory.glob(".fold-*"):  # left by a compactor of an older bathos
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
    started = time.perf_counter()
    live = segments.read_manifest(directory)
    rebuild = live is None and bool(segments.segment_files(directory))
    if live is None:
        live = [p.name for p in segments.segment_files(directory)] if rebuild else []
    _collect_garbage(directory, live)
    catalog = directory.parent.parent  # runs/<project>
    scratch = lens.scratch_dir(catalog)
    con = lens.open_duckdb(scratch, MEMORY_LIMIT)
    try:
        report = _fold(con, scratch, directory, live, rebuild, on_progress, started)
        _fold_points(con, metrics.metrics_dir(directory))
        return report
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _arrived(directory: Path, live: list[str], columns: dict[str, str]) -> list[Path]:
    """The intact arrivals (segments another catalog sent) that `live` does not list."""
    found = [p for p in segments.arrivals(directory) if p.name not in live]
    damaged = segments.damage(found, columns=columns) if found else {}
    return [p for p in found if p not in damaged]


def _to_merge(con: duckdb.DuckDBPyConnection, live_paths: list[Path], key: str,
              incoming_ids: str | None, rebuild: bool) -> list[Path]:
    """The live segments a fold rewrites: all of them when rebuilding, or when one holds a run
    that comes in again (`incoming_ids`, a query of the column `key`); else the small ones once
    there are MERGE_AT."""
    small = [p for p in live_paths if p.stat().st_size < SMALL_SEGMENT_BYTES]
    overlap = incoming_ids is not None and bool(live_paths) and _scalar(
        con, f"SELECT count(*) FROM read_parquet({schema.sql_paths(live_paths)}) "
        f"WHERE {key} IN ({incoming_ids})") > 0
    return list(live_paths) if (rebuild or overlap) else (small if len(small) >= MERGE_AT else [])


def _remove_folded(paths: list[Path]) -> None:
    """Remove folded segments that compaction made or a sync sent (never another file)."""
    for path in paths:
        if segments.is_own(path) or segments.is_arrival_name(path.name):
            path.unlink(missing_ok=True)


def _fold(con: duckdb.DuckDBPyConnection, scratch: Path, directory: Path, live: list[str],
          rebuild: bool, on_progress: Progress | None, started: float) -> CompactionReport:
    hot = lens.HotRows(con, scratch)
    picked: list[tuple[Path, os.stat_result]] = []
    unreadable: list[Path] = []
    for path, stat, record in _foldable(directory, time.time(), unreadable):
        hot.add(record)
        picked.append((path, stat))
    hot.finish()
    if on_progress:
        on_progress(len(picked), len(picked))
    damaged = segments.damage([directory / n for n in live])
    live_paths = [directory / n for n in live if directory / n not in damaged]
    arrived = _arrived(directory, live, schema.COLUMNS)
    incoming = [*(["SELECT id FROM hot"] if picked else []),
                *([f"SELECT id FROM read_parquet({schema.sql_paths(arrived)})"] if arrived
                  else [])]
    merge = _to_merge(con, live_paths, "id", " UNION ALL ".join(incoming) or None, rebuild)
    if not picked and not merge and not arrived:
        if recent.read_recent(directory, live) is None:
            recent.write_recent(con, directory, live)
        return CompactionReport(skipped_unreadable=len(unreadable))
    sources = "SELECT *, 0 AS tier FROM hot"
    if merge or arrived:
        sources += (f" UNION ALL SELECT {', '.join(schema.COLUMNS)}, 1 "
                    f"FROM read_parquet({schema.sql_paths([*merge, *arrived])})")
    new_segment = write_segment(con, sources, directory, scratch)
    kept = [n for n in live if directory / n not in merge]
    segments.write_manifest(directory, [*kept, new_segment.name])
    recent.write_recent(con, directory, [*kept, new_segment.name])
    for path, stat in picked:
        _remove_if_unchanged(path, stat)
    _remove_folded([*merge, *arrived])
    return CompactionReport(
        folded=len(picked), segments_written=1, segments_merged=len(merge),
        skipped_unreadable=len(unreadable), seconds=time.perf_counter() - started,
    )


def _fold_points(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    """Fold a project's hot point files into one metric segment sorted by run, key and step
    (with the live segments when one holds a run that is hot again, or when there are MERGE_AT
    small ones), by the same steps and rules as runs: segment, manifest, then the hot files."""
    if not directory.is_dir():
        return
    live = segments.read_manifest(directory)
    rebuild = live is None and bool(segments.segment_files(directory))
    if live is None:
        live = [p.name for p in segments.segment_files(directory)] if rebuild else []
    _collect_garbage(directory, live)
    # A file `bth verify` would name stays hot, as an unreadable fragment does.
    hot = [(path, path.stat()) for path in metrics.hot_files(directory)
           if metrics.check_hot_file(path) is None]
    damaged = segments.damage([directory / n for n in live], columns=metrics.COLUMNS)
    live_paths = [directory / n for n in live if directory / n not in damaged]
    hot_paths = [path for path, _ in hot]
    arrived = _arrived(directory, live, metrics.COLUMNS)
    incoming = [*([("SELECT unnest([" + ", ".join(
        schema.sql_string(p.name.removesuffix(metrics.POINTS_SUFFIX)) for p in hot_paths)
        + "]) AS run_id")] if hot else []),
        *([f"SELECT run_id FROM read_parquet({schema.sql_paths(arrived)})"] if arrived else [])]
    merge = _to_merge(con, live_paths, "run_id", " UNION ALL ".join(incoming) or None,
                      rebuild)
    if not hot and not merge and not arrived:
        return
    # Each run's points from one file: a hot one, else the newest arrival, else its segment.
    view = metrics.view_sql(hot_paths, [*merge, *arrived], needs_dedup=rebuild or bool(arrived))
    final = directory / segments.segment_name(None)
    tmp = temp_name(final)
    copy_parquet(con, f"SELECT * FROM ({view}) ORDER BY run_id, key, step, time", [], tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    commit_file(tmp, final)
    kept = [n for n in live if directory / n not in merge]
    segments.write_manifest(directory, [*kept, final.name])
    for path, stat in hot:
        _remove_if_unchanged(path, stat)
    _remove_folded([*merge, *arrived])


def compact(catalog: Path, *, wait: bool = True,
            on_progress: Progress | None = None) -> CompactionReport:
    """Compact every project of the catalog under the compaction lock."""
    started = time.perf_counter()
    total = CompactionReport()
    with compaction_lock(catalog, wait=wait):
        lens.remove_stale_scratch(catalog, time.time())
        for directory in store.project_dirs(catalog):
            r = compact_project(directory, on_progress=on_progress)
            total = CompactionReport(
                folded=total.folded + r.folded,
                segments_written=total.segments_written + r.segments_written,
                segments_merged=total.segments_merged + r.segments_merged,
                skipped_unreadable=total.skipped_unreadable + r.skipped_unreadable,
            )
    return attrs.evolve(total, seconds=time.perf_counter() - started)
