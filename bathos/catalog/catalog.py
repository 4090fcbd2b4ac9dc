"""`Catalog`: the one object notebooks and the CLI use to write, query, compact and verify runs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from bathos import config, ids
from bathos.catalog import lens, recent, schema, segments, store
from bathos.catalog.rows import LISTING_COLUMNS, Rows, to_rows
from bathos.errors import (
    AmbiguousRunId,
    CatalogError,
    ConfigError,
    QueryRefused,
    RunNotFound,
)
from bathos.models import STATUSES, Run, structure_run
from bathos.timespec import parse_time

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from bathos.catalog.compact import CompactionReport

log = logging.getLogger("bathos.catalog")

DEFAULT_COMPACT_THRESHOLD = 500
# What a query given by a caller (a notebook, an agent) may run by default before it is stopped.
DEFAULT_QUERY_TIMEOUT_S = 300.0
Progress = Callable[[int, int], None]
T = TypeVar("T")


@attrs.frozen
class RunQuery:
    """Criteria shared by `runs`, `find` and `bth ls/find`; every one is optional."""

    project: str | Sequence[str] | None = None
    since: str | dt.datetime | None = None
    until: str | dt.datetime | None = None
    status: str | Sequence[str] | None = None
    tags: Sequence[str] = ()
    script: str | None = None
    params: dict[str, str] = attrs.field(factory=dict)
    host: str | None = None
    commit: str | None = None
    slurm_job: str | None = None
    output: str | None = None
    campaign: str | None = None
    limit: int | None = None

    def to_sql(self, columns: Sequence[str]) -> tuple[str, list[Any]]:
        where, args = self._where()
        sql = f"SELECT {', '.join(columns)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
        return sql, args

    def _where(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            where.append(clause)
            args.extend(values)

        if self.project:
            projects = [self.project] if isinstance(self.project, str) else list(self.project)
            add(f"project IN ({', '.join('?' * len(projects))})", *projects)
        if self.since:
            add("started_at >= ?", _naive_utc(parse_time(self.since)))
        if self.until:
            add("started_at < ?", _naive_utc(parse_time(self.until)))
        if self.status:
            statuses = [self.status] if isinstance(self.status, str) else list(self.status)
            unknown = sorted(set(statuses) - set(STATUSES))
            if unknown:
                raise ConfigError(
                    f"unknown status {', '.join(unknown)} (choose from {', '.join(STATUSES)})"
                )
            add(f"status IN ({', '.join('?' * len(statuses))})", *statuses)
        if self.tags:
            add("list_has_all(tags, ?)", list(self.tags))
        if self.script:
            add("(script GLOB ? OR regexp_extract(script, '[^/]*$') GLOB ?)", self.script,
                self.script)
        for key, value in self.params.items():
            add("(params->>?) = ?", key, value)
        if self.host:
            add("hostname GLOB ?", self.host)
        if self.commit:
            add("(starts_with(commit, ?) OR starts_with(git->>'snapshot', ?))", self.commit,
                self.commit)
        if self.slurm_job:
            job, _, task = self.slurm_job.partition("_")
            clause = "(slurm_job_id = ? OR slurm_array_job_id = ?)"
            values: list[Any] = [job, job]
            if task:
                clause = "(slurm_array_job_id = ? AND slurm_array_task_id = ?)"
                values = [job, task]
            add(clause, *values)
        if self.output:
            add("id IN (SELECT run_id FROM outputs WHERE path GLOB ? "
                "OR regexp_extract(path, '[^/]*$') GLOB ?)", self.output, self.output)
        if self.campaign:
            add("campaign_id = ?", self.campaign)
        return where, args


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@attrs.frozen
class VerifyReport:
    """What `verify` found (files readers skip or mend, manifest entries they ignore), and the
    copies kept in the quarantine if it fixed them."""

    problems: tuple[store.UnreadableFile, ...]
    quarantined: tuple[Path, ...] = ()
    files_checked: int = 0


class Catalog:
    """The runs catalog under `path` (default: `$BTH_CATALOG_DIR`, the project's catalog, or
    `~/.bth/catalog`).

    >>> cat = Catalog()
    >>> cat.runs(since="7d", status="failed")      # polars DataFrame, newest first
    >>> cat.get("1jd3k").outputs                     # a Run, by a unique id prefix
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config.catalog_dir(config.find_project())
        threshold = os.environ.get("BTH_COMPACT_THRESHOLD", str(DEFAULT_COMPACT_THRESHOLD))
        self.compact_threshold = (int(threshold) if threshold.isdigit()
                                  else DEFAULT_COMPACT_THRESHOLD)

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # writing -----------------------------------------------------------------------------
    def write(self, run: Run) -> Path:
        """Write a run's current state (lock-free, atomic)."""
        return store.write_run(self.path, run)

    def import_spill(self, path: str | os.PathLike[str]) -> Run:
        """Record a run that was spilled when the catalog could not be written (see
        `bathos.catalog.spill`): its logs, then its record, then the spill is removed. A newer
        record of the same run in the catalog is never replaced (CatalogError)."""
        from bathos.catalog import spill

        found = spill.read_spill(Path(path))
        config.make_catalog_dir(self.path)
        rows = self._rows("SELECT max(updated_at) FROM runs WHERE id = ?", [found.run.id]).rows
        held = rows[0][0] if rows else None
        spilled = _naive_utc(found.run.updated_at)
        if held is not None and held > spilled:
            raise CatalogError(
                f"catalog {self.path} holds a newer record of run {found.run.id} (updated "
                f"{held:%Y-%m-%d %H:%M:%S} UTC, the spill {spilled:%Y-%m-%d %H:%M:%S}); the spill "
                f"{found.path} is left as it is (remove it if it is not needed)")
        spill.commit_spill(self.path, found, write_record=held != spilled)
        return found.run

    # reading -----------------------------------------------------------------------------
    def _connect(self, skip: Collection[Path] = ()) -> lens.Lens:
        """A fresh lens without the segments `skip`; first an automatic compaction, once more
        than `compact_threshold` finished runs are hot (found before the rest is read)."""
        try:
            return lens.connect(self.path, compact_above=self.compact_threshold, skip=skip)
        except lens.CompactionDue:
            try:
                self.compact(wait=False)
            except CatalogError as exc:
                log.info("automatic compaction skipped: %s", exc)
        return lens.connect(self.path, skip=skip)

    def _execute(self, work: Callable[[duckdb.DuckDBPyConnection], T],
                 timeout: float | None = None) -> T:
        """Do `work` (queries and fetches) on a fresh lens, stoppable by Ctrl-C and `timeout`;
        retry when a compactor swapped files underneath (DuckDB binds and reads lazily, so all of
        it is inside the retry), and without any segment found damaged once a query failed (the
        check costs nothing until then)."""
        import duckdb

        skipped: set[Path] = set()
        attempt = 0
        while True:
            opened: lens.Lens | None = None
            try:
                opened = self._connect(skipped)
                with opened as con:
                    return lens.run(con, work, timeout)
            except duckdb.Error as exc:
                read = opened.segments if opened else lens.live_segments(self.path, skipped)[0]
                damaged = _damaged_now(read)
                if damaged:
                    skipped.update(damaged)  # each pass skips one more segment at least
                    continue
                if not isinstance(exc, duckdb.IOException):
                    raise CatalogError(f"query failed: {str(exc).splitlines()[0]}") from exc
                attempt += 1
                if attempt == 3:
                    raise CatalogError(f"cannot read catalog {self.path}: {exc}") from exc

    def _rows(self, query: str, params: Sequence[Any] = ()) -> Rows:
        return self._execute(lambda con: to_rows(con.sql(query, params=list(params) or None)))

    def find_rows(self, query: RunQuery | None = None, **criteria: Any) -> Rows:
        """Runs matching the criteria (see RunQuery), newest first, as plain rows."""
        chosen = query or RunQuery(**criteria)
        return self._execute(lambda con: to_rows(_select_runs(con, chosen)))

    def listing(self, query: RunQuery | None = None, **criteria: Any) -> list[dict[str, Any]]:
        """Runs matching the criteria, newest first, as JSON-ready dicts (what `bth ls --json`
        prints). A listing by project, time, status and tags is answered from the newest rows
        compaction keeps beside each manifest, without starting DuckDB, whenever they suffice."""
        chosen = query or RunQuery(**criteria)
        data = recent.newest(self.path, chosen, self.compact_threshold)
        return data if data is not None else self.find_rows(chosen).to_data()

    def find(self, query: RunQuery | None = None, **criteria: Any) -> pl.DataFrame:
        """Runs matching the criteria (see RunQuery), newest first, as a polars DataFrame."""
        chosen = query or RunQuery(**criteria)
        return self._execute(lambda con: _to_frame(_select_runs(con, chosen)))

    def runs(
        self,
        project: str | None = None,
        since: str | dt.datetime | None = None,
        until: str | dt.datetime | None = None,
        status: str | Sequence[str] | None = None,
        tags: Sequence[str] = (),
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Runs newest first, as a polars DataFrame."""
        return self.find(RunQuery(project=project, since=since, until=until, status=status,
                                  tags=tags, limit=limit))

    def resolve(self, id_or_prefix: str) -> str:
        """The full id of the one run whose id starts with `id_or_prefix` (≥ 4 characters)."""
        prefix = id_or_prefix.strip().lower()
        if len(prefix) < 4 or not ids.is_run_id_prefix(prefix):
            raise ConfigError(
                f"{id_or_prefix!r} is not a run id or a prefix of one (give at least 4 of its "
                "characters, as bth ls shows them)"
            )
        found = [r[0] for r in self._rows(
            "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id LIMIT 21", [prefix]
        ).rows]
        if not found:
            raise RunNotFound(id_or_prefix, str(self.path))
        if prefix in found:
            return prefix
        if len(found) > 1:
            raise AmbiguousRunId(id_or_prefix, found)
        return str(found[0])

    def get(self, id_or_prefix: str) -> Run:
        """The run with this id, or the one run whose id starts with this prefix."""
        run_id = self.resolve(id_or_prefix)
        rows = self._rows("SELECT record FROM runs WHERE id = ?", [run_id]).rows
        return structure_run(json.loads(rows[0][0]))

    def read_log(self, id_or_prefix: str, stream: str = "stdout") -> bytes:
        """The stdout or stderr a run produced, as kept in the catalog (b"" if it printed none)."""
        from bathos.catalog.blobs import read_blob

        run = self.get(id_or_prefix)
        ref = getattr(run.logs, stream, None) if run.logs else None
        return read_blob(self.path, ref) if ref else b""

    def query(self, sql: str, params: Sequence[Any] = (), *,
              timeout: float | None = DEFAULT_QUERY_TIMEOUT_S) -> Rows:
        """A read-only SQL query over the views (`?` placeholders take `params`), as plain rows;
        QueryTimeout once it has run `timeout` seconds (None: no limit)."""
        return self._execute(
            lambda con: to_rows(_read_only(con, sql).sql(sql, params=list(params) or None)),
            _check_timeout(timeout))

    def sql(self, sql: str, *, timeout: float | None = DEFAULT_QUERY_TIMEOUT_S) -> pl.DataFrame:
        """A read-only SQL query over the views (`runs`, `outputs`, `dependencies`) as polars;
        QueryTimeout once it has run `timeout` seconds (None: no limit)."""
        return self._execute(lambda con: _to_frame(_read_only(con, sql).sql(sql)),
                             _check_timeout(timeout))

    def schema(self) -> dict[str, list[tuple[str, str]]]:
        """The views and their columns with types."""
        return self._execute(lambda con: {
            view: [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE {view}").fetchall()]
            for view in lens.VIEWS
        })

    # maintenance -------------------------------------------------------------------------
    def compact(self, *, wait: bool = True,
                on_progress: Progress | None = None) -> CompactionReport:
        """Fold finished hot fragments into sorted Parquet segments and merge small segments."""
        from bathos.catalog import compact

        config.make_catalog_dir(self.path)
        try:
            return compact.compact(self.path, wait=wait, on_progress=on_progress)
        except OSError as exc:
            raise CatalogError(f"cannot compact {self.path}: {exc.strerror or exc} (nothing is "
                               "lost; run it again once the catalog can be written)") from exc

    def verify(self, *, quarantine: bool = False,
               on_progress: Progress | None = None) -> VerifyReport:
        """Read every fragment, segment and manifest in full; list what readers skip, mend or
        ignore, and with `quarantine` fix each (originals go to `quarantine/`, nothing is lost)."""
        directories = store.project_dirs(self.path)
        files = [
            p for d in directories
            for p in [*store.iter_fragment_paths(d), *segments.segment_files(d)]
        ]
        problems = [problem for d in directories for problem in segments.check_manifest(d)]
        for done, path in enumerate(files, 1):
            problem = _check_file(path)
            if problem:
                problems.append(problem)
            if on_progress:
                on_progress(done, len(files))
        moved = self._fix(problems) if quarantine and problems else ()
        checked = len(files) + sum(segments.manifest_path(d).exists() for d in directories)
        return VerifyReport(tuple(problems), moved, checked)

    def _fix(self, problems: list[store.UnreadableFile]) -> tuple[Path, ...]:
        """Quarantine what verify found, under the compaction lock (a compactor rewrites
        manifests too): mend fragments in place, drop ignored manifest entries, move the rest."""
        from bathos.catalog.compact import compaction_lock
        from bathos.fsutil import atomic_write_bytes

        moved: list[Path] = []
        rewritten: set[Path] = set()  # one rewrite drops every ignored entry of a manifest
        with compaction_lock(self.path, wait=True):
            for problem in problems:
                path = problem.path
                if isinstance(problem, segments.IgnoredEntry):
                    if path not in rewritten and path.exists():
                        rewritten.add(path)
                        moved.append(self._quarantine(path, keep=True))
                        names = segments.read_manifest(path.parent) or []
                        segments.write_manifest(path.parent, names)
                elif isinstance(problem, store.MendedFragment):
                    # unless its writer replaced it since verify read it
                    if store.is_unchanged(path, problem.stat):
                        moved.append(self._quarantine(path, keep=True))
                        atomic_write_bytes(path, store.encode_record(problem.record))
                elif path.exists():
                    moved.append(self._quarantine(path))
        return tuple(moved)

    def _quarantine(self, path: Path, *, keep: bool = False) -> Path:
        """Move `path` (or with `keep`, copy it) to the quarantine; a moved segment leaves the
        manifest."""
        import shutil

        target = self.path / "quarantine" / path.relative_to(store.runs_root(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            if not target.exists():
                break
            target = target.with_name(f"{path.stem}.{n}{path.suffix}")
        if keep:
            shutil.copy2(path, target)
            return target
        shutil.move(path, target)
        names = segments.read_manifest(path.parent)
        if names is not None and path.name in names:
            segments.write_manifest(path.parent, [n for n in names if n != path.name])
        return target


def _to_frame(rel: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    import polars as pl

    frame = pl.from_arrow(rel.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _select_runs(con: duckdb.DuckDBPyConnection, query: RunQuery) -> duckdb.DuckDBPyRelation:
    sql, args = query.to_sql(LISTING_COLUMNS)
    return con.sql(sql, params=args or None)


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout {timeout!r} is not a positive number of seconds (or None "
                          "for no limit)")
    return timeout


def _read_only(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """`con`, once `sql` is known to only read (SELECT or EXPLAIN); else QueryRefused."""
    import duckdb

    try:
        kinds = lens.statement_types(con, sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot parse query: {str(exc).splitlines()[0]}") from exc
    refused = [k for k in kinds if k not in lens.READ_ONLY_STATEMENTS]
    if "EXPLAIN" in kinds and lens.EXPLAIN_ANALYZE.search(sql):
        refused = ["EXPLAIN ANALYZE"]
    if refused or not kinds:
        raise QueryRefused(
            f"bth sql is read-only: {', '.join(refused) or 'empty query'} is not allowed "
            "(use SELECT; runs are written by bth run)"
        )
    return con


def _check_file(path: Path) -> store.UnreadableFile | None:
    """What readers make of one fragment or segment: None if they read it as it is."""
    if path.suffix == store.FRAGMENT_SUFFIX:
        try:
            return store.check_fragment(path)
        except FileNotFoundError:
            return None  # compacted away while verify ran
    import duckdb

    damaged = segments.damage([path])
    if damaged:
        return store.UnreadableFile(path, damaged[path])
    try:
        duckdb.connect(":memory:").execute(
            "SELECT count(*), max(length(record::VARCHAR)) "
            f"FROM read_parquet({schema.sql_paths([path])})"
        ).fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        return store.UnreadableFile(path, f"unreadable Parquet segment ({first_line})")
    return None


def _damaged_now(paths: list[Path]) -> list[Path]:
    """The segments among `paths` that are damaged (not merely removed by a compactor since the
    query began), each warned about."""
    found = [(p, why) for p, why in segments.damage(paths).items() if p.exists()]
    for path, why in found:
        store.warn_skipped(store.UnreadableFile(path, why))
    return [p for p, _ in found]

