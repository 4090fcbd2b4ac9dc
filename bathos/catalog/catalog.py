"""`Catalog`: the one object notebooks and the CLI use to write, query, compact and verify runs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from bathos import config, ids
from bathos.catalog import lens, recent, schema, segments, store
from bathos.catalog.rows import LISTING_COLUMNS, Rows, to_rows
from bathos.errors import (
    AmbiguousRunId,
    CatalogError,
    CompactionBusy,
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
    """Unreadable files found by `verify`, and where they went if quarantined."""

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

    # reading -----------------------------------------------------------------------------
    def _connect(self) -> lens.Lens:
        """A fresh lens; first an automatic compaction, once more than `compact_threshold`
        finished runs are hot (found before the rest is read)."""
        try:
            return lens.connect(self.path, compact_above=self.compact_threshold)
        except lens.CompactionDue:
            try:
                self.compact(wait=False)
            except (CompactionBusy, OSError) as exc:
                log.info("automatic compaction skipped: %s", exc)
        return lens.connect(self.path)

    def _execute(self, work: Callable[[duckdb.DuckDBPyConnection], T],
                 timeout: float | None = None) -> T:
        """Do `work` (queries and fetches) on a fresh lens, stoppable by Ctrl-C and `timeout`;
        retry when a compactor swapped files underneath (DuckDB binds and reads lazily, so all of
        it is inside the retry)."""
        import duckdb

        for attempt in range(3):
            try:
                with self._connect() as con:
                    return lens.run(con, work, timeout)
            except duckdb.IOException as exc:
                if attempt == 2:
                    raise CatalogError(f"cannot read catalog {self.path}: {exc}") from exc
            except duckdb.Error as exc:
                raise CatalogError(f"query failed: {str(exc).splitlines()[0]}") from exc
        raise AssertionError("unreachable")

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

        return compact.compact(self.path, wait=wait, on_progress=on_progress)

    def verify(self, *, quarantine: bool = False,
               on_progress: Progress | None = None) -> VerifyReport:
        """Read every fragment and segment in full; list (and optionally quarantine) bad ones."""
        files = [
            p for d in store.project_dirs(self.path)
            for p in [*store.iter_fragment_paths(d), *segments.segment_files(d)]
        ]
        problems = []
        for done, path in enumerate(files, 1):
            problem = _check_file(path)
            if problem:
                problems.append(problem)
            if on_progress:
                on_progress(done, len(files))
        moved = tuple(self._quarantine(p.path) for p in problems) if quarantine else ()
        return VerifyReport(tuple(problems), moved, len(files))

    def _quarantine(self, path: Path) -> Path:
        import shutil

        target = self.path / "quarantine" / path.relative_to(store.runs_root(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            if not target.exists():
                break
            target = target.with_name(f"{path.stem}.{n}{path.suffix}")
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
    if path.suffix == store.FRAGMENT_SUFFIX:
        try:
            store.read_fragment(path)
        except store.UnreadableFile as exc:
            return exc
        return None
    import duckdb

    try:
        duckdb.connect(":memory:").execute(
            "SELECT count(*), max(length(record::VARCHAR)) "
            f"FROM read_parquet({schema.sql_paths([path])})"
        ).fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        return store.UnreadableFile(path, f"unreadable Parquet segment ({first_line})")
    return None
