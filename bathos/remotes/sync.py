"""Syncing runs with another catalog over SSH: what moves, and how it lands (docs/sync.md).

Per project, the sending side's runs are compared with the receiving side's by id and
`updated_at`, from file listings and the (id, updated_at) columns of segments; what the receiver
lacks or holds older is sent, with the blobs (logs) it references, its metric points, and the
campaign event files the receiver lacks. Runs land as one new segment (`sync-*.parquet`, live
without the manifest; see bathos.catalog.segments), except running ones and those the receiver
holds hot, which land as fragments; points as one metric segment; blobs and events under their
own names. Every file goes to a temporary name and is renamed into place, blobs and points before
the runs that reference them, so an interrupted sync shows nothing partial and a rerun sends what
is still missing.

The (id, updated_at) columns of a remote's segments are kept under `$BTH_HOME/sync/<remote>/`,
by segment name (a segment never changes), and the state of its fragments by name, size and
mtime; so a sync reads only what changed there. Deleting that cache only makes one sync slower.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from bathos import campaigns, config
from bathos.catalog import blobs, metrics, schema, segments, store
from bathos.config import Remote
from bathos.errors import ConfigError, SyncError, UnreadableFile
from bathos.ids import is_run_id
from bathos.remotes.files import Entry, Files, LocalFiles
from bathos.timespec import parse_iso_utc

log = logging.getLogger("bathos.sync")

Progress = Callable[[int, int], None]
BLOB_RE = re.compile(r"sha256:[0-9a-f]{64}")
MAX_FRAGMENT_BYTES = 64 << 20
MAX_POINT_FILE_BYTES = 1 << 30
MAX_BLOB_BYTES = 1 << 30
ATTEMPTS = 3  # plans made again when the sending side compacted under it


@attrs.frozen
class SyncReport:
    """What one sync moved (or, with `dry_run`, would move): `runs` sent because the other side
    lacked them or held them older, `filtered` runs of other projects left out, the blobs (logs),
    metric points and campaign event files that went with them, the bytes written and the time
    taken, and `rejected`: files received that failed validation, left out (each warned about)."""

    remote: str
    pulled: bool
    projects: tuple[str, ...]
    runs: int = 0
    filtered: int = 0
    blobs: int = 0
    points: int = 0
    campaign_events: int = 0
    bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    rejected: int = 0


@attrs.frozen
class RemoteCheck:
    """What `check_remote` found: the time to log in, the round trip of one SFTP request, the
    remote's catalog (None when it has none yet), whether it can be written, how many runs it
    holds, and the `bth` on its PATH (None: not installed, or not on a login shell's PATH)."""

    remote: Remote
    host: str
    connect_s: float
    latency_s: float
    catalog: str | None
    writable: bool
    runs: int | None
    bth: str | None


@attrs.define
class Hot:
    """A run a side holds as a fragment: its listing, `updated_at` (µs) and status, and its
    record when it was read this time (not known from the cache)."""

    entry: Entry
    updated: int
    status: str
    record: dict[str, Any] | None = None


@attrs.define
class Holdings:
    """The runs of one project a side holds: `cool`, a table of every row of its live segments
    (id, updated_at in µs, the segment's position in `segments`, the row), and `hot`, its
    fragments by run id (a fragment shadows every row of its run, as for readers)."""

    cool: Any  # pyarrow.Table
    segments: list[str]
    hot: dict[str, Hot]

    def newest(self) -> Any:
        """A table of one row per run: id, and the `updated_at` readers would show."""
        import pyarrow as pa
        import pyarrow.compute as pc

        cool = self.cool.select(["id", "updated"])
        if self.hot:
            ids = pa.array(list(self.hot), pa.string())
            cool = pa.concat_tables([
                cool.filter(pc.invert(pc.is_in(cool.column("id"), ids))),
                pa.table({"id": ids, "updated": pa.array([h.updated for h in self.hot.values()],
                                                         pa.int64())})])
        return cool.group_by("id").aggregate([("updated", "max")]).rename_columns(
            ["id", "updated"])

    def __len__(self) -> int:
        return int(self.newest().num_rows)

    def newer_than(self, other: Holdings) -> list[str]:
        """The runs held here that `other` lacks or holds with an older `updated_at`."""
        import pyarrow.compute as pc

        here, there = self.newest(), other.newest().rename_columns(["id", "there"])
        joined = here.join(there, keys="id", join_type="left outer")
        newer = pc.or_kleene(pc.is_null(joined.column("there")),
                             pc.greater(joined.column("updated"), joined.column("there")))
        return sorted(joined.filter(newer).column("id").to_pylist())

    def places(self, ids: list[str]) -> dict[str, tuple[str, int]]:
        """Where each of `ids` (none of them hot) is read: its newest row's segment and row."""
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = self.cool.filter(pc.is_in(self.cool.column("id"), pa.array(ids, pa.string())))
        best: dict[str, tuple[int, str, int]] = {}
        for run_id, updated, segment, row in zip(*(rows.column(c).to_pylist() for c in (
                "id", "updated", "segment", "row")), strict=True):
            if run_id not in best or best[run_id][0] < updated:
                best[run_id] = (updated, self.segments[segment], row)
        return {run_id: (name, row) for run_id, (_, name, row) in best.items()}


@attrs.define
class Side:
    """One catalog of a sync: its files, a cache of what was read of them (None: none kept,
    they are local), and what turned out unreadable."""

    files: Files
    cache: Path | None
    rejected: int = 0

    def warn(self, problem: UnreadableFile) -> None:
        self.rejected += 1
        log.warning("left out %s", problem)


# What a side holds -------------------------------------------------------------------------
def _segment_names(side: Side, directory: str, listing: dict[str, Entry]) -> list[str]:
    """The live segments of a listed directory, as readers take them: the manifest's (present)
    and arrivals, or every segment when there is no readable manifest."""
    names = None
    if segments.MANIFEST in listing:
        try:
            names = segments.parse_manifest(side.files.read(f"{directory}/{segments.MANIFEST}",
                                                            1 << 20))
        except (FileNotFoundError, ValueError):
            names = None
    parquet = [n for n, e in listing.items()
               if n.endswith(store.SEGMENT_SUFFIX) and not n.startswith(".") and not e.is_dir]
    if names is None:
        return sorted(parquet)
    listed = [n for n in dict.fromkeys(names) if n in listing and n in parquet]
    return listed + sorted(n for n in parquet if segments.is_arrival_name(n) and n not in listed)


def _segment_index(side: Side, path: str) -> Any:
    """A table of the ids and `updated_at` (µs) of a segment's rows, in file order: from the
    cache when it was read before (a segment's name never names other rows), else its two
    columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cached = side.cache / path.replace("/", "__") if side.cache else None
    if cached is not None and cached.exists():
        return pq.read_table(cached)
    with side.files.open(path) as fh:
        table = pq.ParquetFile(fh).read(columns=["id", "updated_at"])
    table = pa.table({"id": table.column("id").cast(pa.string()),
                      "updated": table.column("updated_at").cast(pa.timestamp("us"))
                      .cast(pa.int64())})
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.urandom(4).hex()}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, cached)
    return table


def _micros(value: Any) -> int:
    """An ISO time as microseconds since the epoch, exactly (as a segment's TIMESTAMP is)."""
    import datetime as dt

    stamp = parse_iso_utc(str(value))  # checked by the record's validation
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (stamp.astimezone(dt.UTC) - epoch) // dt.timedelta(microseconds=1)


def holdings(side: Side, project: str, *, receiving: bool = False) -> Holdings:
    """Every run of `project` a side holds, as its readers see them: the rows of its live
    segments, and its fragments (read unless the cache knows them by name, size and mtime).

    A file gone since it was listed (compacted away) raises FileNotFoundError, unless the side is
    `receiving`: then it is passed over, and the runs it held may be sent again (harmless: the
    receiver keeps one copy of each)."""
    import pyarrow as pa

    directory = f"runs/{project}"
    listing = side.files.list(directory)
    tables: list[Any] = []
    names: list[str] = []
    for name in _segment_names(side, directory, listing):
        try:
            index = _segment_index(side, f"{directory}/{name}")
        except FileNotFoundError:
            if receiving:
                continue
            raise
        except Exception as exc:  # pyarrow raises many kinds for a file that is not Parquet
            side.warn(UnreadableFile(Path(f"{side.files.where}/{directory}/{name}"),
                                     f"not a readable segment ({exc})"))
            continue
        rows = index.num_rows
        tables.append(index.append_column("segment", pa.array([len(names)] * rows, pa.int32()))
                      .append_column("row", pa.array(range(rows), pa.int64())))
        names.append(name)
    schema_ = pa.schema([("id", pa.string()), ("updated", pa.int64()), ("segment", pa.int32()),
                         ("row", pa.int64())])
    cool = pa.concat_tables(tables) if tables else schema_.empty_table()
    hot = _hot(side, project, directory, listing, receiving)
    return Holdings(cool, names, hot)


def _hot(side: Side, project: str, directory: str, listing: dict[str, Entry],
         receiving: bool) -> dict[str, Hot]:
    seen = _fragment_cache(side, project)
    state: dict[str, list[Any]] = {}
    hot: dict[str, Hot] = {}
    for name, entry in listing.items():
        run_id = name.removesuffix(store.FRAGMENT_SUFFIX)
        if name == run_id or not is_run_id(run_id) or entry.is_dir:
            continue
        known = seen.get(name)
        record = None
        if known and known[:2] == [entry.mtime, entry.size]:
            updated, status = known[2], known[3]
        else:
            try:
                record = _read_fragment(side, directory, name, entry, project)
            except FileNotFoundError:
                if receiving:
                    continue
                raise
            if record is None:
                continue
            updated, status = _micros(record.get("updated_at")), str(record.get("status"))
        state[name] = [entry.mtime, entry.size, updated, status]
        hot[run_id] = Hot(entry, updated, status, record)
    _keep_fragment_cache(side, project, state)
    return hot


def _fragment_cache(side: Side, project: str) -> dict[str, list[Any]]:
    if side.cache is None:
        return {}
    try:
        found = json.loads((side.cache / f"{project}.fragments.json").read_bytes())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _keep_fragment_cache(side: Side, project: str, state: dict[str, list[Any]]) -> None:
    if side.cache is not None:
        from bathos.fsutil import atomic_write_bytes

        atomic_write_bytes(side.cache / f"{project}.fragments.json",
                           json.dumps(state).encode(), durable=False)


def _read_fragment(side: Side, directory: str, name: str, entry: Entry,
                   project: str) -> dict[str, Any] | None:
    """A fragment's record, checked as readers check one (and that it is the run its name and
    directory say); None, warned about, when it is not. FileNotFoundError if it is gone."""
    path = Path(f"{side.files.where}/{directory}/{name}")
    try:
        record, _, _ = store.parse_fragment(path, side.files.read(f"{directory}/{name}",
                                                                MAX_FRAGMENT_BYTES))
        _check_identity(path, record, name.removesuffix(store.FRAGMENT_SUFFIX), project)
    except UnreadableFile as problem:
        side.warn(problem)
        return None
    except ValueError as exc:
        side.warn(UnreadableFile(path, str(exc)))
        return None
    return record


def _check_identity(path: Path, record: dict[str, Any], run_id: str, project: str) -> None:
    if record.get("id") != run_id or record.get("project") != project:
        raise UnreadableFile(path, f"holds run {record.get('id')!r} of project "
                                   f"{record.get('project')!r}, not run {run_id} of {project}")


# Reading what is sent ----------------------------------------------------------------------
def _records(side: Side, project: str, held: Holdings,
             ids: list[str]) -> Iterator[tuple[dict[str, Any], float | None]]:
    """The records of `ids`, each checked, with the fragment's mtime (its heartbeat) for those
    read from one."""
    directory = f"runs/{project}"
    cool = [run_id for run_id in ids if run_id not in held.hot]
    for run_id in ids:
        hot = held.hot.get(run_id)
        if hot is None:
            continue
        record = hot.record or _read_fragment(side, directory,
                                              f"{run_id}{store.FRAGMENT_SUFFIX}", hot.entry,
                                              project)
        if record is not None:
            yield record, hot.entry.mtime
    by_segment: dict[str, dict[int, str]] = {}
    for run_id, (name, row) in held.places(cool).items():
        by_segment.setdefault(name, {})[row] = run_id
    for name, rows in by_segment.items():
        yield from ((r, None) for r in _segment_records(side, f"{directory}/{name}", rows,
                                                        project))


def _segment_records(side: Side, path: str, rows: dict[int, str],
                     project: str) -> Iterator[dict[str, Any]]:
    """The records at `rows` of a segment, reading only the row groups that hold them."""
    import pyarrow.parquet as pq

    with side.files.open(path) as fh:
        parquet = pq.ParquetFile(fh)
        groups, start = [], 0
        for n in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(n).num_rows
            if any(start <= row < start + size for row in rows):
                groups.append(n)
            start += size
        table = parquet.read_row_groups(groups, columns=["id", "record"])
    wanted = set(rows.values())
    where = Path(f"{side.files.where}/{path}")
    for run_id, text in zip(table.column("id").to_pylist(), table.column("record").to_pylist(),
                            strict=True):
        if run_id not in wanted:
            continue
        wanted.discard(run_id)
        try:
            record, _, _ = store.parse_fragment(where, str(text).encode())
            _check_identity(where, record, run_id, project)
        except UnreadableFile as problem:
            side.warn(problem)
            continue
        yield record


# Landing -----------------------------------------------------------------------------------
def _land_runs(dst: Side, project: str, sent: list[tuple[dict[str, Any], float | None]],
               dst_held: Holdings, scratch: Path) -> int:
    """Write the records: running ones, and those the receiver holds hot (a hot fragment shadows
    segments), as fragments; the rest as one arrival segment. The bytes written."""
    as_fragments: list[tuple[dict[str, Any], float | None]] = []
    batch: list[dict[str, Any]] = []
    for record, mtime in sent:
        if record.get("status") == "running" or record["id"] in dst_held.hot:
            as_fragments.append((record, mtime))
        else:
            batch.append(record)
    written = 0
    if batch:
        from bathos.catalog import lens
        from bathos.catalog.compact import copy_parquet

        con = lens.open_duckdb(scratch)
        try:
            hot = lens.HotRows(con, scratch)
            for record in batch:
                hot.add(record)
            hot.finish()
            part = scratch / "runs.parquet"
            copy_parquet(con, f"SELECT {', '.join(schema.COLUMNS)} FROM hot "
                         "ORDER BY started_at, id", [], part)
        finally:
            con.close()
        written += dst.files.write(f"runs/{project}/{segments.arrival_name()}", part)
    for record, mtime in as_fragments:
        written += dst.files.write(f"runs/{project}/{record['id']}{store.FRAGMENT_SUFFIX}",
                                   store.encode_record(record), mtime=mtime)
    return written


def _land_points(src: Side, dst: Side, project: str, ids: list[str],
                 scratch: Path) -> tuple[int, int]:
    """Send the metric points of the finished runs `ids` as one metric segment: each run's from
    its hot point file, else from the newest segment holding it. (points, bytes written)"""
    directory = f"runs/{project}/{metrics.METRICS_DIR}"
    listing = src.files.list(directory)
    if not listing or not ids:
        return 0, 0
    hot_dir = scratch / "points" / project / metrics.METRICS_DIR
    hot: list[Path] = []
    rest = set(ids)
    for run_id in ids:
        name = f"{run_id}{metrics.POINTS_SUFFIX}"
        if name not in listing:
            continue
        rest.discard(run_id)
        raw = src.files.read(f"{directory}/{name}", MAX_POINT_FILE_BYTES)
        why = metrics.check_points(raw)
        if why:
            src.warn(UnreadableFile(Path(f"{src.files.where}/{directory}/{name}"), why))
            continue
        hot_dir.mkdir(parents=True, exist_ok=True)
        (hot_dir / name).write_bytes(raw)
        hot.append(hot_dir / name)
    cool = _cool_points(src, directory, listing, rest, project, scratch) if rest else []
    if not hot and not cool:
        return 0, 0
    from bathos.catalog import lens
    from bathos.catalog.compact import copy_parquet

    con = lens.open_duckdb(scratch)
    try:
        part = scratch / "points.parquet"
        view = metrics.view_sql(hot, cool, needs_dedup=False)
        copy_parquet(con, f"SELECT * FROM ({view}) ORDER BY run_id, key, step, time", [], part)
        count = con.execute(f"SELECT count(*) FROM read_parquet('{part}')").fetchall()[0][0]
    finally:
        con.close()
    return int(count), dst.files.write(f"{directory}/{segments.arrival_name()}", part)


def _cool_points(src: Side, directory: str, listing: dict[str, Entry], wanted: set[str],
                 project: str, scratch: Path) -> list[Path]:
    """The points of `wanted` runs in the sending side's metric segments (newest first, each run
    from one), read by the row groups whose run id range can hold them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts: list[Path] = []
    for name in sorted(_segment_names(src, directory, listing), reverse=True):
        if not wanted:
            break
        try:
            with src.files.open(f"{directory}/{name}") as fh:
                parquet = pq.ParquetFile(fh)
                column = parquet.schema_arrow.get_field_index("run_id")
                groups = []
                for n in range(parquet.metadata.num_row_groups):
                    stats = parquet.metadata.row_group(n).column(column).statistics
                    if stats is None or not stats.has_min_max or any(
                            stats.min <= run_id <= stats.max for run_id in wanted):
                        groups.append(n)
                table = parquet.read_row_groups(groups, columns=list(metrics.COLUMNS))
        except FileNotFoundError:
            raise
        except Exception as exc:  # not a metric segment
            src.warn(UnreadableFile(Path(f"{src.files.where}/{directory}/{name}"),
                                    f"not a readable metric segment ({exc})"))
            continue
        table = table.filter(pc.and_(pc.is_in(table.column("run_id"),
                                              pa.array(sorted(wanted))),
                                     pc.equal(table.column("project"), project)))
        if table.num_rows:
            parts.append(scratch / f"points-{len(parts)}.parquet")
            pq.write_table(table, parts[-1])
            wanted -= set(table.column("run_id").to_pylist())
    return parts


def _blob_refs(records: list[dict[str, Any]], logs: bool) -> list[str]:
    """The blobs the records reference (logs only if `logs`), each once."""
    refs: dict[str, None] = {}
    for record in records:
        found = [(record.get("sidecar") or {}).get("blob"),
                 (record.get("environment") or {}).get("packages_list")]
        if logs:
            kept = record.get("logs") or {}
            found += [kept.get("stdout"), kept.get("stderr")]
        refs.update((r, None) for r in found if isinstance(r, str) and BLOB_RE.fullmatch(r))
    return list(refs)


def _blob_path(ref: str) -> str:
    """The blob's path inside a catalog, as `blobs.blob_path` names it (`ref` is checked)."""
    return blobs.blob_path(Path(), ref).as_posix()


def _missing_blobs(src: Side, dst: Side, refs: list[str]) -> list[str]:
    """The refs the receiver lacks and the sender has: one listing of each blob directory."""
    by_dir: dict[str, list[str]] = {}
    for ref in refs:
        by_dir.setdefault(_blob_path(ref).rsplit("/", 1)[0], []).append(ref)
    missing = []
    for directory, wanted in by_dir.items():
        there, here = dst.files.list(directory), src.files.list(directory)
        missing += [r for r in wanted if _blob_path(r).rsplit("/", 1)[1] not in there
                    and _blob_path(r).rsplit("/", 1)[1] in here]
    return missing


def _inflated_sha256(raw: bytes) -> str | None:
    """The sha256 of what the one gzip member `raw` holds, inflated a megabyte at a time and
    never past MAX_BLOB_BYTES (a small file another machine sent may inflate to terabytes);
    None if it is no whole member or inflates past that."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    digest, size, data = hashlib.sha256(), 0, raw
    try:
        while not inflate.eof:
            chunk = inflate.decompress(data, 1 << 20)
            data = inflate.unconsumed_tail
            if not chunk and not data:
                break
            size += len(chunk)
            if size > MAX_BLOB_BYTES:
                return None
            digest.update(chunk)
    except zlib.error:
        return None
    return digest.hexdigest() if inflate.eof and not inflate.unused_data else None


def _copy_blob(src: Side, dst: Side, ref: str) -> int:
    """Copy one blob, once its bytes are the ones its name promises."""
    path = _blob_path(ref)
    raw = src.files.read(path, MAX_BLOB_BYTES)
    if _inflated_sha256(raw) != ref.removeprefix("sha256:"):
        src.warn(UnreadableFile(Path(f"{src.files.where}/{path}"), "not the blob its name is"))
        return 0
    return dst.files.write(path, raw)


def _missing_events(src: Side, dst: Side, project: str) -> list[str]:
    """The campaign event files of `project` the receiver lacks (by name: they never change)."""
    root = f"campaigns/{project}"
    missing = []
    for campaign, entry in sorted(src.files.list(root).items()):
        if not entry.is_dir or not campaigns.ID_PATTERN.match(campaign):
            continue
        there = dst.files.list(f"{root}/{campaign}")
        missing += [f"{root}/{campaign}/{name}"
                    for name, e in sorted(src.files.list(f"{root}/{campaign}").items())
                    if campaigns.EVENT_NAME.match(name) and name not in there and not e.is_dir]
    return missing


def _copy_event(src: Side, dst: Side, path: str, project: str) -> int:
    """Copy one campaign event file once it is one, as readers check it (`parse_event`)."""
    _, _, campaign, name = path.split("/")
    try:
        raw = src.files.read(path, campaigns.MAX_EVENT_BYTES)
        campaigns.parse_event(raw, project, campaign, name)
    except ValueError as exc:
        src.warn(UnreadableFile(Path(f"{src.files.where}/{path}"), str(exc)))
        return 0
    return dst.files.write(path, raw)


# One project -------------------------------------------------------------------------------
@attrs.define
class _Moved:
    runs: int = 0
    blobs: int = 0
    points: int = 0
    events: int = 0
    bytes: int = 0


def _sync_project(src: Side, dst: Side, project: str, *, logs: bool, dry_run: bool,
                  scratch: Path, progress: Progress | None) -> _Moved:
    """Send what `dst` lacks of `project`: blobs and points first, then the runs, then the
    campaign events."""
    src_held, dst_held = holdings(src, project), holdings(dst, project, receiving=True)
    ids = src_held.newer_than(dst_held)
    events = _missing_events(src, dst, project)
    moved = _Moved()
    if dry_run:
        return _Moved(runs=len(ids), events=len(events))
    sent = list(_records(src, project, src_held, ids))
    refs = _missing_blobs(src, dst, _blob_refs([r for r, _ in sent], logs)) if sent else []
    total = len(sent) + len(refs) + len(events)
    done = 0

    def step(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if sent:
        dst.files.mkdirs(f"runs/{project}")
    for ref in refs:
        written = _copy_blob(src, dst, ref)
        moved.blobs += written > 0
        moved.bytes += written
        step()
    finished = [r["id"] for r, _ in sent if r.get("status") != "running"]
    if finished:
        moved.points, written = _land_points(src, dst, project, finished, scratch)
        moved.bytes += written
    if sent:
        moved.bytes += _land_runs(dst, project, sent, dst_held, scratch)
        moved.runs = len(sent)
        step(len(sent))
    for path in events:
        written = _copy_event(src, dst, path, project)
        moved.events += written > 0
        moved.bytes += written
        step()
    return moved


# The entry points --------------------------------------------------------------------------
def _cache_dir(session: Any, root: str) -> Path:
    target = session.target
    key = hashlib.sha256(f"{target.user}@{target.hostname}:{target.port}{root}".encode())
    return config.bth_home() / "sync" / f"{session.remote.name}-{key.hexdigest()[:12]}"


def _remote_catalog(files: Files) -> str:
    """The remote's catalog inside its path: the path itself when it holds `runs/`, else its
    `catalog/` (the path being the remote's $BTH_HOME)."""
    listing = files.list("")
    return "" if "runs" in listing and listing["runs"].is_dir else "catalog"


def _projects(src: Side, project: str | None, all_projects: bool) -> list[str]:
    found = sorted(n for n, e in src.files.list("runs").items()
                   if e.is_dir and config.SLUG_RE.match(n))
    if all_projects:
        return found
    assert project is not None
    return [project]


def sync_catalogs(catalog: Path, remote: Remote, *, pull: bool = False,
                  project: str | None = None, all_projects: bool = False, dry_run: bool = False,
                  logs: bool = True, accept_new_host_key: bool = False,
                  on_progress: Progress | None = None) -> SyncReport:
    """Push this catalog's runs of `project` (or of every project) to `remote`, or with `pull`
    bring the remote's here; what the other side already holds as new is not sent."""
    from bathos.remotes import ssh

    started = time.perf_counter()
    if project is not None:
        config.check_slug(project)
    session = ssh.connect(remote, accept_new_host_key=accept_new_host_key)
    # What is sent is staged outside the catalog: a push needs no write access to it.
    scratch = Path(tempfile.mkdtemp(prefix="bth-sync-"))
    try:
        root = ssh.remote_root(session)
        inner = _remote_catalog(ssh.SFTPFiles(session, root))
        remote_root = f"{root}/{inner}" if inner else root
        there = Side(ssh.SFTPFiles(session, remote_root), _cache_dir(session, remote_root))
        if not pull and not dry_run:
            _check_writable(there.files, inner, ssh.SFTPFiles(session, root))
        here = Side(LocalFiles(catalog), None)
        if pull:
            config.make_catalog_dir(catalog)
        src, dst = (there, here) if pull else (here, there)
        projects = _projects(src, project, all_projects)
        total = _Moved()
        for name in projects:
            moved = _with_retries(remote.name, src, dst, name, logs=logs, dry_run=dry_run,
                                  scratch=scratch, progress=on_progress)
            for field in attrs.fields(_Moved):
                setattr(total, field.name, getattr(total, field.name) +
                        getattr(moved, field.name))
        filtered = 0 if all_projects else sum(
            len(holdings(src, other)) for other in _projects(src, None, True)
            if other not in projects)
    finally:
        session.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return SyncReport(remote=remote.name, pulled=pull, projects=tuple(projects), runs=total.runs,
                      filtered=filtered, blobs=total.blobs, points=total.points,
                      campaign_events=total.events, bytes=total.bytes,
                      seconds=time.perf_counter() - started, dry_run=dry_run,
                      rejected=src.rejected + dst.rejected)


def _with_retries(remote: str, src: Side, dst: Side, project: str, **options: Any) -> _Moved:
    """One project's sync, planned again when a file it planned to read is gone (the sending
    side compacted meanwhile); what was landed already is not sent twice."""
    for attempt in range(ATTEMPTS):
        try:
            return _sync_project(src, dst, project, **options)
        except FileNotFoundError as exc:
            log.debug("%s while syncing %s", exc, project)
            if attempt == ATTEMPTS - 1:
                raise SyncError(remote, f"the runs of {project} kept moving while they were read "
                                "(compactions under way?): sync again") from None
            log.info("files of %s moved while read; planning again", project)
    raise AssertionError("unreachable")


def _check_writable(files: Files, inner: str, root: Files) -> None:
    """Fail before anything is sent when the remote's catalog cannot be written."""
    if inner:
        root.mkdirs(inner)
    probe = f".bth-sync-probe-{os.urandom(4).hex()}"
    files.write(probe, b"")
    files.remove(probe)


def check_remote(remote: str | Remote | None = None, *,
                 accept_new_host_key: bool = False) -> RemoteCheck:
    """Connect to a remote (a name, default the only one there is, or a Remote) and look: the
    time to log in, one request's round trip, its catalog, whether that can be written, how
    many runs it holds, and whether `bth` is installed there. Writes nothing but a probe file
    it removes.

    >>> bathos.check_remote("cluster").runs
    """
    from bathos.remotes import ssh

    remote = resolve_remote(remote)
    started = time.perf_counter()
    session = ssh.connect(remote, accept_new_host_key=accept_new_host_key)
    connected = time.perf_counter() - started
    try:
        root = ssh.remote_root(session)
        top = ssh.SFTPFiles(session, root)
        latency = top.round_trip()
        inner = _remote_catalog(top)
        files = ssh.SFTPFiles(session, f"{root}/{inner}" if inner else root)
        exists = "runs" in files.list("")
        writable = True
        try:
            _check_writable(files if exists else top, "", top)
        except SyncError:
            writable = False
        side = Side(files, _cache_dir(session, files.root))
        runs = sum(len(holdings(side, p)) for p in _projects(side, None, True)) if exists else 0
        bth = session.run("sh -lc 'command -v bth'")
    finally:
        session.close()
    return RemoteCheck(remote=remote, host=f"{session.target.user}@{session.target.hostname}:"
                       f"{session.target.port}", connect_s=connected, latency_s=latency,
                       catalog=files.where if exists else None, writable=writable, runs=runs,
                       bth=bth)


def sync(remote: str | Remote | None = None, *, catalog: str | os.PathLike[str] | None = None,
         pull: bool = False, project: str | None = None, all_projects: bool = False,
         dry_run: bool = False, logs: bool = True, accept_new_host_key: bool = False,
         on_progress: Progress | None = None) -> SyncReport:
    """`Catalog(catalog).sync(remote, ...)`: push this project's runs to a remote over SSH, or
    pull them (see `Catalog.sync`).

    >>> bathos.sync("cluster", pull=True).runs
    """
    from bathos.catalog.catalog import Catalog

    return Catalog(catalog).sync(remote, pull=pull, project=project, all_projects=all_projects,
                                 dry_run=dry_run, logs=logs,
                                 accept_new_host_key=accept_new_host_key, on_progress=on_progress)


def resolve_remote(name: str | Remote | None) -> Remote:
    """A Remote given, or the one named, or the only one there is."""
    from bathos.remotes import registry

    if isinstance(name, Remote):
        return name
    return registry.find_remote(name) if name else registry.default_remote()


def pick_project(project: str | None, all_projects: bool) -> tuple[str | None, bool]:
    """The project to sync (the cwd's by default) and whether all are (the project's
    `sync_filter = "none"` says so too); ConfigError outside a project without either."""
    if project or all_projects:
        return project, all_projects and not project
    found = config.find_project()
    if found is None:
        raise ConfigError("not inside a bathos project: name the project to sync, or sync "
                          "every project", hint="bth sync --project SLUG, or --all-projects")
    if found.sync_filter == "none":
        return None, True
    return found.slug, False

