"""Rewriting the records of older schema versions as the current one, and moving fragments and
segments into the directory of their project.

Readers upgrade old fragments in memory (`schema.upgrade`); `migrate` writes the upgraded record
back through the same steps, so the catalog no longer depends on them. It works as compaction
does, under its lock, while runs are written: a fragment is rewritten under a temporary name and
renamed over the old one only if no writer replaced it meanwhile (a run still running is left to
its writer); a segment is rewritten as a new segment, checked, swapped into the manifest, and only
then is the old one removed. A crash at any instant loses nothing, and running it again finishes
the job; on a current catalog it writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bathos.catalog import compact, lens, recent, schema, segments, store
from bathos.config import SLUG_RE
from bathos.errors import CatalogError, UnreadableFile
from bathos.fsutil import fsync_dir, temp_name
from bathos.models import SCHEMA_VERSION

if TYPE_CHECKING:
    import duckdb

Progress = Callable[[int, int], None]


@attrs.frozen
class Outdated:
    """A fragment or segment holding records of older schema versions: version -> records."""

    path: Path
    versions: dict[int, int]
    size: int


@attrs.frozen
class MigrationReport:
    """What `migrate` upgraded (or, in a dry run, would upgrade): records by the version they
    were stored at, the files rewritten and their bytes before and after (None in a dry run),
    the old records of runs still running (left to their writers), and the files skipped."""

    upgraded: dict[int, int] = attrs.field(factory=dict)
    fragments: int = 0
    segments: int = 0
    bytes_before: int = 0
    bytes_after: int | None = None
    left_running: int = 0
    skipped: tuple[UnreadableFile, ...] = ()
    dry_run: bool = False


def outdated(directories: list[Path]) -> list[Outdated]:
    """The fragments and live segments of `directories` that hold records of an older schema.
    (Unreadable files are left to `Catalog.verify`.)"""
    found = []
    for directory in directories:
        for path in store.iter_fragment_paths(directory):
            version = _stored_version(path)
            if version is not None and version < SCHEMA_VERSION:
                found.append(Outdated(path, {version: 1}, path.stat().st_size))
        entries = segments.manifest_entries(directory)  # its ignored entries: verify's
        live = [directory / n for n in entries[0]] if entries else \
            segments.segment_files(directory)
        for path in (p for p in live if segments.looks_complete(p)):
            versions = _segment_versions(path)
            if versions:
                found.append(Outdated(path, versions, path.stat().st_size))
    return found


def _stored_version(path: Path) -> int | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    version = data.get("schema_version", 0) if isinstance(data, dict) else None
    return version if isinstance(version, int) else None


def _segment_versions(path: Path) -> dict[int, int]:
    """Rows of a segment stored at an older schema version, by version (none stored: 0)."""
    import duckdb

    try:
        rows = duckdb.connect(":memory:").execute(
            "SELECT coalesce(schema_version, 0) AS v, count(*) FROM read_parquet(?) "
            f"WHERE coalesce(schema_version, 0) < {SCHEMA_VERSION} GROUP BY v ORDER BY v",
            [str(path)]).fetchall()
    except duckdb.Error:
        return {}  # damaged: verify names it
    return {int(v): int(n) for v, n in rows}


def migrate(catalog: Path, directories: list[Path], *, dry_run: bool = False,
            on_progress: Progress | None = None) -> MigrationReport:
    """Upgrade every outdated fragment and segment of `directories` (see the module's doc)."""
    found = outdated(directories)
    if dry_run or not found:  # a current catalog: not even the lock is taken
        return MigrationReport(upgraded=_sum([f.versions for f in found]),
                               fragments=sum(f.path.suffix == store.FRAGMENT_SUFFIX
                                             for f in found),
                               segments=sum(f.path.suffix == store.SEGMENT_SUFFIX
                                            for f in found),
                               bytes_before=sum(f.size for f in found), dry_run=dry_run)
    upgraded: list[dict[int, int]] = []
    skipped: list[UnreadableFile] = []
    before = after = fragments = rewritten = running = 0
    with compact.compaction_lock(catalog, wait=True):
        found = outdated(directories)  # again: a compactor may have moved some meanwhile
        for done, item in enumerate(found, 1):
            try:
                if item.path.suffix == store.FRAGMENT_SUFFIX:
                    result = _migrate_fragment(item.path)
                else:
                    result = _migrate_segment(catalog, item.path)
            except UnreadableFile as exc:
                skipped.append(exc)
                continue
            except FileNotFoundError:
                continue  # compacted or replaced since it was listed
            finally:
                if on_progress:
                    on_progress(done, len(found))
            if result is None:
                running += 1
                continue
            versions, size = result
            if not versions:
                continue  # current by now, or replaced by its writer
            upgraded.append(versions)
            before += item.size
            after += size
            fragments += item.path.suffix == store.FRAGMENT_SUFFIX
            rewritten += item.path.suffix == store.SEGMENT_SUFFIX
        # One sync of each directory makes its renames durable: until then a crash leaves the
        # old fragment, whole (each new one was synced before its rename).
        for directory in {f.path.parent for f in found}:
            fsync_dir(directory)
    return MigrationReport(_sum(upgraded), fragments, rewritten, before, after, running,
                           tuple(skipped))


def _sum(counts: list[dict[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for versions in counts:
        for version, n in versions.items():
            total[version] = total.get(version, 0) + n
    return dict(sorted(total.items()))


def _migrate_fragment(path: Path) -> tuple[dict[int, int], int] | None:
    """Rewrite one fragment upgraded (its mtime, a running record's heartbeat, kept): the
    versions upgraded and its new size; None when its run is still running (its writer will
    replace it), or it is current by now."""
    record, stat, version = store.read_stored(path)
    if version >= SCHEMA_VERSION:
        return {}, stat.st_size
    settled = store.settle_status(dict(record), stat.st_mtime, time.time())
    if settled.get("status") == "running":
        return None
    body = store.encode_record(record)
    tmp = temp_name(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        if store.read_fragment(tmp)[0] != record:
            raise UnreadableFile(path, "its upgraded record does not read back as written")
        if not store.is_unchanged(path, stat):
            tmp.unlink()
            return {}, stat.st_size  # a writer replaced it: its record is its own
        os.replace(tmp, path)  # made durable with its directory's other renames (`migrate`)
    finally:
        tmp.unlink(missing_ok=True)
    return {version: 1}, len(body)


def _migrate_segment(catalog: Path, path: Path) -> tuple[dict[int, int], int]:
    """Rewrite one segment with every record upgraded, as a new segment of the same rows; swap
    it into the manifest once it reads back whole, then remove the old one."""
    directory = path.parent
    live = segments.read_manifest(directory)
    live = [p.name for p in segments.segment_files(directory)] if live is None else live
    scratch = lens.scratch_dir(catalog)
    con = lens.open_duckdb(scratch, compact.MEMORY_LIMIT)
    try:
        hot = lens.HotRows(con, scratch)
        versions = _upgrade_rows(path, hot)
        hot.finish()
        new = compact.write_segment(con, "SELECT *, 0 AS tier FROM hot", directory, scratch)
        try:
            _check_rewritten(con, path, new)
        except BaseException:
            new.unlink(missing_ok=True)
            raise
        kept = [n for n in live if n != path.name]
        segments.write_manifest(directory, [*kept, new.name])
        recent.write_recent(con, directory, [*kept, new.name])
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if segments.is_own(path):
        path.unlink(missing_ok=True)
        fsync_dir(directory)
    return versions, new.stat().st_size


def _upgrade_rows(path: Path, hot: lens.HotRows) -> dict[int, int]:
    """Every record of a segment upgraded into `hot`, a batch at a time: the versions they were
    stored at. UnreadableFile (the segment left as it is) if one cannot be upgraded."""
    import duckdb

    versions: dict[int, int] = {}
    reader = duckdb.connect(":memory:")
    try:
        cursor = reader.execute("SELECT record::VARCHAR FROM read_parquet(?)", [str(path)])
        while batch := cursor.fetchmany(lens.BATCH_ROWS):
            for (text,) in batch:
                old = json.loads(text)
                record = schema.upgrade(old)
                wrong = schema.problem(record)
                if wrong:
                    raise UnreadableFile(path, f"record {record.get('id')} cannot be upgraded "
                                         f"({wrong}); the segment is left as it is")
                version = old.get("schema_version", 0)
                versions[version] = versions.get(version, 0) + (version < SCHEMA_VERSION)
                hot.add(record)
    except (duckdb.Error, ValueError, KeyError, TypeError, CatalogError) as exc:
        raise UnreadableFile(path, f"cannot be upgraded ({str(exc).splitlines()[0]}); the "
                             "segment is left as it is") from exc
    finally:
        reader.close()
    return {v: n for v, n in versions.items() if n}


def _check_rewritten(con: duckdb.DuckDBPyConnection, old: Path, new: Path) -> None:
    """The new segment is whole, current, and holds every id of the old one."""
    if segments.damage([new]):
        raise UnreadableFile(old, "its upgraded copy does not read back; the segment is left "
                             "as it is")
    missing, stale = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT id FROM read_parquet({schema.sql_paths([old])}) "
        f"EXCEPT SELECT id FROM read_parquet({schema.sql_paths([new])}))), "
        f"(SELECT count(*) FROM read_parquet({schema.sql_paths([new])}) "
        f"WHERE schema_version IS DISTINCT FROM {SCHEMA_VERSION})").fetchone() or (1, 1)
    if missing or stale:
        raise UnreadableFile(old, "its upgraded copy lacks some of its runs; the segment is "
                             "left as it is")


@attrs.frozen
class MoveReport:
    """What `move_to_project_dirs` moved (or, in a dry run, would move): fragments, and the
    segments whose rows it moved with how many rows; fragments dropped because their project's
    directory held the same run as new or newer; runs still running (left to their writers);
    files skipped as unreadable."""

    fragments: int = 0
    segments: int = 0
    rows: int = 0
    superseded: int = 0
    left_running: int = 0
    skipped: tuple[UnreadableFile, ...] = ()
    dry_run: bool = False


def move_to_project_dirs(catalog: Path, *, dry_run: bool = False,
                         on_progress: Progress | None = None) -> MoveReport:
    """Move fragments and segment rows found flat in `runs/`, or in the directory of another
    project, into `runs/<their project>/`: a fragment by one rename (unless its project's
    directory holds the run as new or newer), segment rows through new segments of the projects
    they belong to, swapped into their manifests before the old segment is removed. Under the
    compaction lock; run again after a crash, it finishes the job and moves nothing twice."""
    found = _misplaced(catalog)
    if dry_run or not any(found):
        fragments, rows = found
        return MoveReport(len(fragments), len(rows), sum(rows.values()), dry_run=dry_run)
    counts = {"fragments": 0, "superseded": 0, "left_running": 0, "segments": 0, "rows": 0}
    skipped: list[UnreadableFile] = []
    with compact.compaction_lock(catalog, wait=True):
        fragments, rows = _misplaced(catalog)
        total = len(fragments) + len(rows)
        for done, path in enumerate([*fragments, *rows], 1):
            try:
                if path.suffix == store.FRAGMENT_SUFFIX:
                    counts[_move_fragment(catalog, path)] += 1
                else:
                    counts["rows"] += _move_rows(catalog, path)
                    counts["segments"] += 1
            except UnreadableFile as exc:
                skipped.append(exc)
            except FileNotFoundError:
                pass  # compacted or moved since it was listed
            if on_progress:
                on_progress(done, total)
        _remove_flat_manifest(catalog)
    return MoveReport(counts["fragments"], counts["segments"], counts["rows"],
                      counts["superseded"], counts["left_running"], tuple(skipped))


def _misplaced(catalog: Path) -> tuple[list[Path], dict[Path, int]]:
    """Fragments whose record is not of the directory they lie in (or lie flat in `runs/`), and
    segments holding such rows, with how many."""
    root = store.runs_root(catalog)
    fragments: list[Path] = []
    rows: dict[Path, int] = {}
    if not root.is_dir():
        return fragments, rows
    for directory in [root, *store.project_dirs(catalog)]:
        for path in store.iter_fragment_paths(directory):
            project = _fragment_project(path)
            if directory == root or (project is not None and project != directory.name):
                fragments.append(path)
        for path in segments.segment_files(directory):
            foreign = _foreign_rows(path, None if directory == root else directory.name)
            if foreign:
                rows[path] = foreign
    return fragments, rows


def _fragment_project(path: Path) -> str | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    project = data.get("project", data.get("project_slug")) if isinstance(data, dict) else None
    return project if isinstance(project, str) else None


def _foreign_rows(path: Path, project: str | None) -> int:
    """Rows of a segment that belong elsewhere than `project` (None: all of them)."""
    import duckdb

    try:
        row = duckdb.connect(":memory:").execute(
            "SELECT count(*) FROM read_parquet(?) WHERE project IS DISTINCT FROM ?",
            [str(path), project]).fetchone()
    except duckdb.Error:
        return 0  # damaged: verify names it
    return int(row[0]) if row else 0


def _move_fragment(catalog: Path, path: Path) -> str:
    """Move one fragment into its project's directory: which count it adds to."""
    record, stat = store.read_fragment(path)
    if store.settle_status(dict(record), stat.st_mtime, time.time()).get("status") == "running":
        return "left_running"  # its writer writes it where it is
    target = store.fragment_path(catalog, record["project"], record["id"])
    try:
        there = store.read_fragment(target)[0]
    except (FileNotFoundError, UnreadableFile):
        there = None
    if there is not None and there.get("updated_at", "") >= record.get("updated_at", ""):
        if store.is_unchanged(path, stat):
            path.unlink()
            fsync_dir(path.parent)
        return "superseded"
    if not store.is_unchanged(path, stat):
        raise FileNotFoundError(path)  # replaced since: the next pass moves its new state
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    fsync_dir(target.parent)
    fsync_dir(path.parent)
    return "fragments"


def _move_rows(catalog: Path, path: Path) -> int:
    """Move the rows of a segment that belong to other projects into segments of theirs (merged
    with their live segments when these hold some of the same runs), then rewrite the segment
    without them (or drop it, flat): the number of rows moved."""
    directory = path.parent
    own = None if directory == store.runs_root(catalog) else directory.name
    scratch = lens.scratch_dir(catalog)
    con = lens.open_duckdb(scratch, compact.MEMORY_LIMIT)
    source = f"read_parquet({schema.sql_paths([path])})"
    try:
        projects = [p for (p,) in con.execute(
            f"SELECT DISTINCT project FROM {source} WHERE project IS DISTINCT FROM ?",
            [own]).fetchall()]
        moved = 0
        for project in projects:
            if not isinstance(project, str) or not SLUG_RE.match(project):
                raise UnreadableFile(path, f"holds rows of project {project!r}, not a project "
                                     "slug; the segment is left as it is")
            moved += _add_rows(con, source, project, store.project_dir(catalog, project),
                               scratch)
        if own is not None:
            _replace_segment(con, path, f"SELECT *, 0 AS tier FROM {source} "
                             f"WHERE project = {schema.sql_string(own)}", scratch)
        if segments.is_own(path):
            path.unlink(missing_ok=True)
            fsync_dir(directory)
        return moved
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _add_rows(con: duckdb.DuckDBPyConnection, source: str, project: str, target: Path,
              scratch: Path) -> int:
    """Write a segment of `project`'s rows of `source` into its directory and list it there."""
    rows = f"SELECT *, 0 AS tier FROM {source} WHERE project = {schema.sql_string(project)}"
    target.mkdir(parents=True, exist_ok=True)
    live = segments.read_manifest(target)
    live = [p.name for p in segments.segment_files(target)] if live is None else live
    paths = [target / n for n in live if (target / n).exists()]
    overlap = bool(paths) and bool(con.execute(
        f"SELECT count(*) FROM read_parquet({schema.sql_paths(paths)}) "
        f"WHERE id IN (SELECT id FROM ({rows}))").fetchone()[0])  # type: ignore[index]
    merge = paths if overlap else []
    sources = rows + (f" UNION ALL SELECT {', '.join(schema.COLUMNS)}, 1 FROM "
                      f"read_parquet({schema.sql_paths(merge)})" if merge else "")
    count = con.execute(f"SELECT count(*) FROM ({rows})").fetchone()
    new = compact.write_segment(con, sources, target, scratch)
    kept = [n for n in live if target / n not in merge]
    segments.write_manifest(target, [*kept, new.name])
    recent.write_recent(con, target, [*kept, new.name])
    for old in merge:
        if segments.is_own(old):
            old.unlink(missing_ok=True)
    return int(count[0]) if count else 0


def _replace_segment(con: duckdb.DuckDBPyConnection, path: Path, rows: str,
                     scratch: Path) -> None:
    """Swap `path` in its manifest for a new segment of `rows` (none: just drop it)."""
    directory = path.parent
    live = segments.read_manifest(directory)
    live = [p.name for p in segments.segment_files(directory)] if live is None else live
    kept = [n for n in live if n != path.name]
    left = con.execute(f"SELECT count(*) FROM ({rows})").fetchone()
    if left and left[0]:
        kept.append(compact.write_segment(con, rows, directory, scratch).name)
    segments.write_manifest(directory, kept)
    recent.write_recent(con, directory, kept)


def _remove_flat_manifest(catalog: Path) -> None:
    """A manifest and kept rows flat in `runs/` once no segment is left there to list."""
    root = store.runs_root(catalog)
    if not segments.segment_files(root):
        for name in (segments.MANIFEST, recent.RECENT):
            (root / name).unlink(missing_ok=True)
