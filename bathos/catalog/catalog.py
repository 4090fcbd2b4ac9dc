"""`Catalog`: the one object notebooks and the CLI use to write, query, compact and verify runs."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from bathos import config, ids
from bathos.catalog import lens, recent, schema, segments, store
from bathos.catalog.rows import LISTING_COLUMNS, OBJECT_COLUMNS, Rows
from bathos.errors import (
    AmbiguousRunId,
    CatalogError,
    ConfigError,
    LogsUnavailable,
    QueryRefused,
    RunNotFound,
    UnreadableFile,
)
from bathos.models import Run, structure_run
from bathos.query import RunQuery, chosen, naive_utc

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from bathos.campaigns import Campaign, CampaignHandle
    from bathos.catalog.compact import CompactionReport
    from bathos.catalog.legacy import ImportReport
    from bathos.catalog.migrate import MigrationReport, MoveReport, Outdated
    from bathos.checker import CheckReport, FileOrigin
    from bathos.config import Remote
    from bathos.diff import RunDiff
    from bathos.lineage import Lineage
    from bathos.reaper import Reaped
    from bathos.remotes.sync import SyncReport
    from bathos.rerun import Rerun
    from bathos.sidecar import SidecarSpec

log = logging.getLogger("bathos.catalog")

DEFAULT_COMPACT_THRESHOLD = 500
# What a query given by a caller (a notebook, an agent) may run by default before it is stopped.
DEFAULT_QUERY_TIMEOUT_S = 300.0
Progress = Callable[[int, int], None]
PACKAGE_COLUMNS = ("name", "version", "source", "editable")
T = TypeVar("T")


@attrs.frozen
class VerifyReport:
    """What `verify` found (files readers skip or mend, manifest entries they ignore), and the
    copies kept in the quarantine if it fixed them."""

    problems: tuple[UnreadableFile, ...]
    quarantined: tuple[Path, ...] = ()
    files_checked: int = 0
    # Files holding records of an older schema: readable, but `Catalog.migrate` rewrites them.
    outdated: tuple[Outdated, ...] = ()


class Catalog:
    """The runs catalog under `path` (default: `$BTH_CATALOG_DIR`, the project's catalog, or
    `~/.bth/catalog`): every operation on runs is a method of it.

    >>> cat = Catalog()
    >>> cat.runs(since="7d", status="failed")        # Rows, newest first
    >>> cat.sql("SELECT count(*) FROM runs")         # Rows
    >>> cat.get("1jd3k").outputs                     # a Run, by a unique id prefix
    >>> cat.check(check_outputs=True).to_polars()    # is each result still valid?
    >>> cat.producer_of("outputs/summary.json")      # which run wrote this file
    >>> cat.lineage("1jd3k")                         # the runs it came from
    >>> cat.packages("1jd3k")                        # the Python packages it ran with
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config.catalog_dir(config.find_project())
        threshold = os.environ.get("BTH_COMPACT_THRESHOLD", str(DEFAULT_COMPACT_THRESHOLD))
        self.compact_threshold = (int(threshold) if threshold.isdigit()
                                  else DEFAULT_COMPACT_THRESHOLD)
        self._held: _Held | None = None  # the lens every read shares, inside `reading()`

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # writing -----------------------------------------------------------------------------
    def write(self, run: Run) -> Path:
        """Write a run's current state (lock-free, atomic)."""
        return store.write_run(self.path, run)

    def reap(self, project: str | Sequence[str] | None = None, *, all_projects: bool = False,
             dry_run: bool = False) -> list[Reaped]:
        """Settle the `running` runs whose process is gone (the current project's, unless
        `project` or `all_projects` say otherwise): as their SLURM job ended by the scheduler's
        word, else `lost`; `dry_run` only says which it would settle.

        >>> [(r.run_id, r.status, r.reason) for r in Catalog().reap(dry_run=True)]
        """
        from bathos.reaper import reap

        projects = RunQuery(project=project, all_projects=all_projects).projects()
        return reap(self.path, projects, dry_run=dry_run)

    def import_spill(self, path: str | os.PathLike[str]) -> Run:
        """Record a run that was spilled when the catalog could not be written (see
        `bathos.catalog.spill`): its logs, then its record, then the spill is removed. A newer
        record of the same run in the catalog is never replaced (CatalogError)."""
        from bathos.catalog import spill

        found = spill.read_spill(Path(path))
        config.make_catalog_dir(self.path)
        rows = self._fetch("SELECT max(updated_at) FROM runs WHERE id = ?", [found.run.id]).tuples()
        held = rows[0][0] if rows else None
        spilled = naive_utc(found.run.updated_at)
        if held is not None and held > spilled:
            raise CatalogError(
                f"catalog {self.path} holds a newer record of run {found.run.id} (updated "
                f"{held:%Y-%m-%d %H:%M:%S} UTC, the spill {spilled:%Y-%m-%d %H:%M:%S}); the spill "
                f"{found.path} is left as it is (remove it if it is not needed)")
        spill.commit_spill(self.path, found, write_record=held != spilled)
        return found.run

    def import_legacy(self, path: str | os.PathLike[str], *, dry_run: bool = False,
                      on_progress: Progress | None = None) -> ImportReport:
        """Bring the runs (and campaigns) of a catalog of the older bathos into this one: `path`
        is its catalog directory (or the `~/.bth` above it). Each run keeps its id; what has no
        place in a record here is kept in `Run.extra`, and `Run.imported` says where it came
        from. Run twice, nothing is written twice; a run updated there since is updated here.
        A file that cannot be read is skipped and listed in the report. ConfigError when
        `path` holds no such catalog.

        >>> cat.import_legacy("~/.bth-old/catalog").imported
        """
        from bathos.catalog import legacy

        where = Path(path).expanduser()
        sources = legacy.find_sources(where)
        if sources is None:
            raise ConfigError(f"no catalog of the older bathos in {where} (it holds runs/"
                              f"run_<id>.parquet files or {legacy.DATABASE}; give its catalog "
                              "directory)")
        held = dict(self._fetch(
            f"SELECT id, updated_at FROM runs WHERE length(id) = {legacy.ID_LENGTH}"
        ).tuples()) if store.project_dirs(self.path) else {}
        if not dry_run:
            config.make_catalog_dir(self.path)
        return legacy.import_runs(self.path, sources, held, dry_run=dry_run,
                                  on_progress=on_progress)

    def spills(self, start: str | os.PathLike[str] | None = None) -> list[Path]:
        """The spilled runs waiting to be imported, in the usual places: `outputs/*/bth-spill` of
        the project `start` (default: the working directory) lies in, then the user's own place
        under `$TMPDIR`."""
        from bathos.catalog import spill

        return spill.find_spills(Path(start) if start is not None else None)

    # reading -----------------------------------------------------------------------------
    def _connect(self, skip: Collection[Path] = (), with_metrics: bool = False,
                 with_campaigns: bool = False) -> lens.Lens:
        """A fresh lens without the segments `skip` (and `with_metrics`, the `metrics` view;
        `with_campaigns`, `campaigns` and `campaign_runs`); first an automatic compaction, once
        more than `compact_threshold` finished runs are hot (found before the rest is read)."""
        views = {"with_metrics": with_metrics, "with_campaigns": with_campaigns}
        try:
            return lens.connect(self.path, compact_above=self.compact_threshold, skip=skip,
                                **views)
        except lens.CompactionDue:
            try:
                self.compact(wait=False)
            except CatalogError as exc:
                log.info("automatic compaction skipped: %s", exc)
        return lens.connect(self.path, skip=skip, **views)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Catalog]:
        """A Catalog of the same path whose queries, until the block ends, all read one view of
        the catalog, taken by the first of them: DuckDB is started and the hot runs loaded once,
        not once a query, so a page or a report that asks many questions is quick. It sees the
        catalog as it was then (a run written or finished meanwhile is not in its answers);
        writes go on as usual. Use it from one thread at a time.

        >>> with cat.reading() as snap:
        ...     found = [snap.check([r]) for r in run_ids]
        """
        if self._held is not None:  # already one
            yield self
            return
        held = copy.copy(self)
        held._held = _Held()
        try:
            yield held
        finally:
            held._held.close()
            held._held = None  # from now on, each query reads afresh again

    def _execute(self, work: Callable[[duckdb.DuckDBPyConnection], T],
                 timeout: float | None = None, *, with_metrics: bool = False,
                 with_campaigns: bool = False) -> T:
        """Do `work` (queries and fetches) on a fresh lens (inside `reading()`, on the one it
        holds, opened with every view), stoppable by Ctrl-C and `timeout`; retry when a compactor
        swapped files underneath (DuckDB binds and reads lazily, so all of it is inside the
        retry), and without any segment found damaged once a query failed (the check costs
        nothing until then)."""
        import duckdb

        skipped: set[Path] = set()
        attempt = 0
        while True:
            opened: lens.Lens | None = None
            try:
                if self._held is not None:
                    if self._held.opened is None:
                        self._held.opened = self._connect(skipped, True, True)
                    opened = self._held.opened
                    return lens.run(opened.con, work, timeout)
                opened = self._connect(skipped, with_metrics, with_campaigns)
                with opened as con:
                    return lens.run(con, work, timeout)
            except duckdb.Error as exc:
                read = opened.segments if opened else lens.live_segments(self.path, skipped)[0]
                damaged = _damaged_now(read)
                if damaged:
                    skipped.update(damaged)  # each pass skips one more segment at least
                elif not isinstance(exc, duckdb.IOException):
                    raise CatalogError(f"query failed: {str(exc).splitlines()[0]}") from exc
                else:
                    attempt += 1
                    if attempt == 3:
                        raise CatalogError(f"cannot read catalog {self.path}: {exc}") from exc
                if self._held is not None:
                    self._held.close()  # the next pass reads the catalog afresh

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Rows of the library's own query (not checked as read-only, no time limit); the
        campaign views are there when it names `campaign_runs` (a RunQuery by campaign does)."""
        return self._execute(lambda con: _fetched(con, sql, params),
                             with_campaigns="campaign_runs" in sql)

    def runs(self, query: RunQuery | None = None, /, *, flatten: bool = False,
             **criteria: Any) -> Rows:
        """Runs matching a RunQuery (or its criteria as keywords), newest first.

        >>> cat.runs(since="7d", status="failed")
        >>> cat.runs(RunQuery(all_projects=True, script="train*.py", limit=20))
        >>> cat.runs(script="train.py", flatten=True).to_polars().sort("params.lr")

        Without `project` or `all_projects`, the runs of the project the working directory lies in
        (or of every project outside one); a project the catalog has no runs of, and the registry
        does not know, is a ConfigError. In a frame, `params` and `results` are Structs typed key
        by key (params that all read as numbers are numbers); `flatten` gives one column per key
        instead (`params.lr`, `results.loss`: see `Rows.flattened`). A listing by project, time,
        status and tags is answered from the newest rows compaction keeps beside each manifest,
        without starting DuckDB, whenever they give the same answer (outside `reading()`)."""
        picked = chosen(query, criteria)
        if query.project if query else criteria.get("project"):
            self._check_projects(picked.projects() or [])
        held = self._held is not None  # inside `reading()`, the one view it holds answers
        data = None if held else recent.newest(self.path, picked, self.compact_threshold)
        if data is not None:
            found = Rows.from_dicts(LISTING_COLUMNS,
                                    [schema.column_type(c) for c in LISTING_COLUMNS], data)
        else:
            found = self._execute(lambda con: _listed(con, picked),
                                  with_campaigns=picked.campaign is not None)
        rows = Rows(found.columns, found.types, found.tuples(), objects=OBJECT_COLUMNS)
        return rows.flattened() if flatten else rows

    def _check_projects(self, named: list[str]) -> None:
        """ConfigError unless every project named has runs here or is registered (and has none
        yet): a mistyped name is told, not answered with no runs."""
        from bathos.projects import read_registry

        known = {d.name for d in store.project_dirs(self.path)}
        if set(named) <= known:
            return
        unknown = sorted(set(named) - known - read_registry().keys())
        if unknown:
            raise ConfigError(
                f"no project {', '.join(unknown)} in catalog {self.path} (its projects: "
                f"{', '.join(sorted(known)) or 'none yet'})",
                hint="bth ls --all-projects lists the runs of every project")

    def resolve(self, id_or_prefix: str) -> str:
        """The full id of the one run whose id starts with `id_or_prefix` (≥ 4 characters)."""
        prefix = id_or_prefix.strip().lower()
        if len(prefix) < 4 or not ids.is_run_id_prefix(prefix):
            raise ConfigError(
                f"{id_or_prefix!r} is not a run id or a prefix of one (give at least 4 of its "
                "characters)", hint="bth ls shows run ids")
        found = [r[0] for r in self._fetch(
            "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id LIMIT 21", [prefix]
        ).tuples()]
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
        rows = self._fetch("SELECT record FROM runs WHERE id = ?", [run_id]).tuples()
        return structure_run(schema.upgrade(json.loads(rows[0][0])))  # a segment not migrated

    def read_log(self, run: str | Run, stream: str = "stdout") -> bytes:
        """The stdout or stderr a run (a Run, an id or a prefix) produced, as kept in the catalog
        (b"" if it printed none); of a run still running on this host, its output so far.

        LogsUnavailable for a run that kept none, or runs where its output cannot be read."""
        return b"".join(self._log(run, stream, follow=False))

    def follow_log(self, run: str | Run, stream: str = "stdout") -> Iterator[bytes]:
        """A run's stdout or stderr in parts as it writes them, ending when the run ends (at
        once for a finished run), each byte once: what it has written so far, then each new part.

        >>> for part in cat.follow_log("1jd3k"):
        ...     sys.stdout.buffer.write(part)

        LogsUnavailable as `read_log`, or at the end for a run that ended without its logs."""
        return self._log(run, stream, follow=True)

    def _log(self, run: str | Run, stream: str, *, follow: bool) -> Iterator[bytes]:
        """The live log of a running run of this host, then the rest of what the catalog kept
        (`livelog` says how the two meet)."""
        from bathos import livelog
        from bathos.catalog.blobs import read_blob

        if stream not in livelog.STREAMS:
            raise ConfigError(f"no log stream {stream!r} (choose stdout or stderr)")
        found = run if isinstance(run, Run) else self.get(run)
        position = 0
        if found.status == "running":
            position, ended = yield from self._live_log(found, stream, follow=follow)
            if ended is None:
                return  # its output so far: it runs on
            found = ended
        if found.logs is None:
            raise LogsUnavailable(found.id, _no_logs_why(found))
        ref = getattr(found.logs, stream)
        kept = read_blob(self.path, ref) if ref else b""
        rest = livelog.kept_after(kept, getattr(found.logs, f"{stream}_bytes"), position)
        if rest:
            yield rest

    def _live_log(self, run: Run, stream: str, *,
                  follow: bool) -> Generator[bytes, None, tuple[int, Run | None]]:
        """The live log of a running run; then how many bytes of the stream it gave, and the
        run's record once it has ended (None while it runs on)."""
        from bathos import livelog

        if run.host is None or run.host.hostname != os.uname().nodename:
            where = run.host.hostname if run.host else "another host"
            raise LogsUnavailable(run.id, f"is running on {where}: its logs are kept in the "
                                  "catalog when it ends")
        position, seen, ended = yield from livelog.read_running(run, stream, follow=follow)
        if seen and not ended:
            return position, None
        found = self.get(run.id)
        if found.status == "running":
            raise LogsUnavailable(found.id, (
                "ended without a final record, so no log was kept" if seen else
                "is running without a live log here (a script that records itself keeps none, "
                "nor does a run under another $BTH_HOME or an older bathos): its logs, if any, "
                "are kept when it ends"))
        return position, found

    def metrics(self, runs: str | Sequence[str], keys: Sequence[str] | None = None
                ) -> pl.DataFrame:
        """The metric history of `runs` (ids or unique prefixes): one long polars frame with a
        row per point — `run_id`, `key`, `step`, `value`, `time` (naive UTC) — in the order the
        runs are given, then by key and step; only the `keys` named, when given.

        >>> cat.metrics("1jd3k", keys=["loss"]).pivot("key", index="step", values="value")

        A run still running shows the points it has written so far (on this host)."""
        from bathos.catalog import metrics

        ids = list(dict.fromkeys(self.resolve(r) for r in ([runs] if isinstance(runs, str)
                                                           else runs)))
        wanted = None if keys is None else list(keys)

        def work(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, list[str]]:
            points = con.sql(
                "SELECT run_id, key, step, value, time FROM metrics WHERE list_contains(?, run_id)"
                " AND (?::VARCHAR[] IS NULL OR list_contains(?, key))",
                params=[ids, wanted, wanted]).pl()
            running = con.execute("SELECT id FROM runs WHERE list_contains(?, id) AND status = "
                                  "'running'", [ids]).fetchall()
            return points, [r[0] for r in running]

        stored, running = self._execute(work, with_metrics=True)
        return metrics.arrange(stored, running, ids, wanted)

    def packages(self, run: str | Run) -> Rows:
        """The Python distributions installed where `run` (a Run, an id or a prefix) ran, by
        name: `name`, `version`, `source` (where PEP 610 says it was installed from:
        `git+URL@commit`, a `file://` path or archive; None from a package index) and `editable`.

        >>> cat.packages("1jd3k").to_polars().filter(pl.col("name") == "numpy")

        No rows for a run without a list (a command that is not Python, or a run recorded before
        bathos kept them); CatalogError when the catalog lacks the list or cannot read it."""
        from bathos.catalog.blobs import read_blob
        from bathos.provenance.environment import decode_packages

        found = run if isinstance(run, Run) else self.get(run)
        ref = found.environment.packages_list if found.environment else None
        packages = []
        if ref is not None:
            try:
                packages = decode_packages(read_blob(self.path, ref))
            except ValueError as exc:
                raise CatalogError(f"the package list {ref} of run {found.id} in {self.path} is "
                                   f"unreadable: {exc}") from None
        return Rows.from_dicts(PACKAGE_COLUMNS, ["VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN"],
                               packages)

    def sidecar(self, run: str | Run) -> SidecarSpec | None:
        """The sidecar `run` (a Run, an id or a prefix) was judged by, as the catalog kept it when
        the run ended (the file may have changed since): None for a run without a kept one.

        >>> spec = cat.sidecar("1jd3k"); spec.kind, spec.fields["hypothesis"]

        CatalogError when the catalog lacks the content or it is no longer a valid sidecar."""
        from bathos.catalog.blobs import read_blob
        from bathos.errors import SidecarInvalid
        from bathos.sidecar import parse_sidecar

        found = run if isinstance(run, Run) else self.get(run)
        if found.sidecar is None or found.sidecar.blob is None:
            return None
        try:
            return parse_sidecar(read_blob(self.path, found.sidecar.blob),
                                 found.sidecar.path or "sidecar")
        except SidecarInvalid as exc:
            raise CatalogError(f"the sidecar kept for run {found.id} is no longer valid: "
                               f"{exc}") from None

    def diff(self, a: str | Run, b: str | Run) -> RunDiff:
        """What differs between two runs (Runs, ids or prefixes), section by section: code
        (commit, snapshot, and a unified diff of each script, module and sidecar that changed,
        read from the git objects the runs pinned), command, params, environment (interpreter,
        packages added, removed or upgraded, variables), inputs and outputs by content hash,
        results, host and SLURM, outcome.

        >>> d = cat.diff("1jd3k", "1jd7m")
        >>> d.identical, d.outputs_identical     # did the rerun write the same bytes?
        >>> d["params"].changes                  # (Change(key='lr', a='0.1', b='0.2', …),)
        """
        from bathos.diff import diff_runs

        first, second = (r if isinstance(r, Run) else self.get(r) for r in (a, b))
        return diff_runs(self, first, second)

    def lineage(self, run: str, *, descendants: bool = False, max_depth: int = 50) -> Lineage:
        """The runs `run` (an id or prefix) came from, and with `descendants` the runs built on
        it: explicit links (`derived_from`) and links inferred from files one run wrote and
        another read."""
        from bathos.lineage import trace

        return trace(self, run, descendants=descendants, max_depth=max_depth)

    def rerun(self, run: str | Run, *, here: bool = False, tags: Sequence[str] = (),
              on_started: Callable[[Run], None] | None = None) -> Rerun:
        """Run `run` (a Run, an id or a prefix) again as it was: from its pinned code in a
        temporary checkout (or, with `here`, in its repository when the files it read are
        unchanged there), with its arguments, working directory, interpreter and recorded
        variables. The new run derives from it and is tagged `rerun`; `Rerun.outputs` says
        whether its outputs have the old ones' bytes. ConfigError when it cannot be rerun.

        >>> cat.rerun("1jd3k").outputs.identical
        """
        from bathos.rerun import rerun

        return rerun(self, run, here=here, tags=tags, on_started=on_started)

    def tag(self, run: str | Run, *, add: str | Sequence[str] = (),
            remove: str | Sequence[str] = ()) -> Run:
        """Add tags to and remove tags from a run that has ended (a Run, an id or a prefix):
        its record is rewritten with them, the edit recorded in `Run.tag_edits` (who, when),
        and returned. ConfigError for a run still running or a tag that is not valid.

        >>> cat.tag("1jd3k", add=["baseline"], remove=["draft"]).tags
        """
        from bathos.tagging import tag_run

        return tag_run(self, run, add=add, remove=remove)

    def check(self, runs: Sequence[str] = (), *, query: RunQuery | None = None,
              verdicts: Sequence[str] = (), against: str | None = None,
              check_outputs: bool = False, **criteria: Any) -> CheckReport:
        """Whether each result is still valid: a Verdict per run (fresh, stale, stale-upstream or
        unknown, with the reasons), newest first.

        >>> cat.check()                                     # completed runs of this project
        >>> cat.check(["1jd3k"], against="main")            # one run, against a revision
        >>> cat.check(script="train.py", check_outputs=True, verdicts=["stale"])

        Runs are the ids or prefixes `runs`, else those a RunQuery (or its criteria as keywords)
        matches, completed runs unless a `status` is given. `against` judges against a git
        revision instead of the working tree; `check_outputs` also checks each output is present
        and unchanged; `verdicts` keeps only those verdicts."""
        from bathos.checker import judge

        return judge(self, runs, chosen(query, criteria, status="completed"), verdicts=verdicts,
                     against=against,
                     check_outputs=check_outputs)

    def producer_of(self, path: str | os.PathLike[str], *,
                    against: str | None = None) -> FileOrigin:
        """The run that last wrote the file `path` as it is (its bytes at its recorded path;
        else the newest that wrote that path, else the newest that wrote its bytes anywhere),
        and that run's verdict. A path outside every git repository and registered project is
        a ConfigError."""
        from bathos.checker import producer_of

        return producer_of(self, Path(path), against=against)

    def tracked_changes(self, run: Run) -> dict[str, str | None]:
        """Why a run's tree was dirty: each file git tracks that its snapshot holds changed (or
        deleted), with the id of the earlier run that wrote those bytes there, or None when no
        recorded run did (an edit by hand)."""
        from bathos.checker import tracked_changes

        return tracked_changes(self, run)

    def sql(self, sql: str, params: Sequence[Any] = (), *,
            timeout: float | None = DEFAULT_QUERY_TIMEOUT_S, limit: int | None = None) -> Rows:
        """A read-only SQL query over the views `runs`, `outputs`, `dependencies`, `metrics`,
        `campaigns` and `campaign_runs` (`?` placeholders take `params`), its first `limit` rows
        only when given (the rest are never computed). QueryRefused for a statement that would
        write; QueryTimeout once it has run `timeout` seconds (None: no limit).

        >>> cat.sql("SELECT script, count(*) AS n FROM runs GROUP BY ALL").to_polars()
        """
        if limit is not None and not limit >= 0:
            raise ConfigError(f"limit {limit!r} is not a number of rows (0 or more, or None)")

        def work(con: duckdb.DuckDBPyConnection) -> Rows:
            found = _read_only(con, sql).sql(sql, params=list(params) or None)
            return Rows.from_relation(found if limit is None else found.limit(limit))

        lowered = sql.lower()
        return self._execute(work, _check_timeout(timeout), with_metrics="metrics" in lowered,
                             with_campaigns="campaign" in lowered)

    def schema(self) -> dict[str, list[tuple[str, str]]]:
        """The views and their columns with types."""
        return self._execute(lambda con: {
            view: [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE {view}").fetchall()]
            for view in lens.VIEWS
        }, with_metrics=True, with_campaigns=True)

    # campaigns ---------------------------------------------------------------------------
    def create_campaign(self, id: str, *, project: str, hypothesis: str,
                        question: str | None = None, mode: str = "exploration") -> Campaign:
        """Start a campaign: runs grouped to test `hypothesis` (and answer `question`), in
        `mode` exploration or confirmation. Its `id` is a slug unique in the catalog.

        >>> cat.create_campaign("lr-sweep", project="demo", hypothesis="lr=0.1 lowers loss")
        """
        from bathos import campaigns

        config.make_catalog_dir(self.path)
        return campaigns.create(self.path, id, project=project, hypothesis=hypothesis,
                                question=question, mode=mode)

    def campaigns(self, project: str | None = None) -> Rows:
        """Every campaign (of `project`, when given), newest first: id, project, status, mode,
        question, hypothesis, outcome, note, created_at, concluded_at and n_runs, its members."""
        where = " WHERE project = ?" if project is not None else ""
        return self._execute(lambda con: _fetched(
            con, f"SELECT * FROM campaigns{where} ORDER BY created_at DESC, id DESC",
            [project] if project is not None else []), with_campaigns=True)

    def campaign(self, id: str) -> CampaignHandle:
        """Campaign `id`, to read and change (CampaignNotFound if there is none).

        >>> cat.campaign("lr-sweep").runs().to_polars()
        """
        from bathos.campaigns import CampaignHandle

        return CampaignHandle(self, id)

    def sync(self, remote: str | Remote | None = None, *, pull: bool = False,
             project: str | None = None, all_projects: bool = False, dry_run: bool = False,
             logs: bool = True, accept_new_host_key: bool = False,
             on_progress: Progress | None = None) -> SyncReport:
        """Send this catalog's runs to a remote catalog over SSH (or with `pull`, bring its runs
        here): those the other side lacks or holds in an older state, with their logs (unless
        not `logs`), metric points and campaign events. Only the runs of `project` (default:
        the project the working directory lies in, unless its sync_filter is "none") or of
        every project with `all_projects`. `remote` is a name (default: the only remote there
        is) or a Remote; `dry_run` counts without sending. A host whose key is not in
        known_hosts is refused (HostKeyUnknown) unless `accept_new_host_key`.

        >>> cat.sync("cluster").runs          # pushed
        >>> cat.sync("cluster", pull=True)    # a SyncReport
        """
        from bathos.remotes import sync

        chosen_project, every = sync.pick_project(project, all_projects)
        return sync.sync_catalogs(
            self.path, sync.resolve_remote(remote), pull=pull, project=chosen_project,
            all_projects=every, dry_run=dry_run, logs=logs,
            accept_new_host_key=accept_new_host_key, on_progress=on_progress)

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

    def migrate(self, *, project: str | None = None, dry_run: bool = False,
                on_progress: Progress | None = None) -> MigrationReport:
        """Rewrite the records an older bathos stored (fragments and segments of older schema
        versions, of every project or of `project`) as the current schema gives them, through
        the upgrades readers apply. Safe while runs are written and compacted, idempotent, and
        nothing when every record is current; `dry_run` only counts what it would upgrade."""
        from bathos.catalog import migrate

        directories = store.project_dirs(self.path)
        if project is not None:
            self._check_projects([config.check_slug(project)])
            directories = [d for d in directories if d.name == project]
        return migrate.migrate(self.path, directories, dry_run=dry_run, on_progress=on_progress)

    def move_to_project_dirs(self, *, dry_run: bool = False,
                             on_progress: Progress | None = None) -> MoveReport:
        """Move fragments and segments found flat in `runs/` (as an older layout kept them), or
        in another project's directory, into `runs/<project>/`, where readers look: atomically,
        safe while runs are written and compacted, and moving nothing twice."""
        from bathos.catalog import migrate

        return migrate.move_to_project_dirs(self.path, dry_run=dry_run, on_progress=on_progress)

    def verify(self, *, quarantine: bool = False,
               on_progress: Progress | None = None) -> VerifyReport:
        """Read every fragment, segment, manifest and campaign event in full; list what readers
        skip, mend or ignore, and with `quarantine` fix each (originals go to `quarantine/`,
        nothing is lost); and the files holding records of an older schema (`migrate` rewrites
        them)."""
        from bathos.catalog import metrics, migrate

        directories = store.project_dirs(self.path)
        point_dirs = [m for d in directories if (m := metrics.metrics_dir(d)).is_dir()]
        files = [
            (p, schema.COLUMNS) for d in directories
            for p in [*store.iter_fragment_paths(d), *segments.segment_files(d)]
        ] + [(p, metrics.COLUMNS) for d in point_dirs
             for p in [*metrics.hot_files(d), *segments.segment_files(d)]]
        problems = [problem for d in [*directories, *point_dirs]
                    for problem in segments.check_manifest(d)]
        for done, (path, columns) in enumerate(files, 1):
            problem = _check_file(path, columns)
            if problem:
                problems.append(problem)
            if on_progress:
                on_progress(done, len(files))
        from bathos.campaigns import check_files

        events_bad, events_checked = check_files(self.path)
        problems += events_bad
        moved = self._fix(problems) if quarantine and problems else ()
        checked = len(files) + events_checked + sum(segments.manifest_path(d).exists()
                                                    for d in [*directories, *point_dirs])
        return VerifyReport(tuple(problems), moved, checked,
                            tuple(migrate.outdated(directories)))

    def _fix(self, problems: list[UnreadableFile]) -> tuple[Path, ...]:
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

        runs = store.runs_root(self.path)
        # runs' files keep their place under runs/ (as before campaigns), the rest theirs
        target = self.path / "quarantine" / (path.relative_to(runs) if path.is_relative_to(runs)
                                             else path.relative_to(self.path))
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


@attrs.define
class _Held:
    """The lens the reads of `Catalog.reading()` share (None until the first opens it)."""

    opened: lens.Lens | None = None

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def _no_logs_why(run: Run) -> str:
    if run.status == "lost":
        return "was lost (its process ended without recording how), so no log was kept"
    return ("kept no logs: a script that records itself (run directly, not under bth run) keeps "
            "none, nor did bathos before it kept logs")


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
            f"queries are read-only: {', '.join(refused) or 'empty query'} is not allowed "
            "(use SELECT)")
    return con


def _check_file(path: Path, columns: dict[str, str]) -> UnreadableFile | None:
    """What readers make of one fragment, point file or segment (of `columns`): None if they
    read it as it is."""
    if path.suffix == store.FRAGMENT_SUFFIX:
        try:
            return store.check_fragment(path)
        except FileNotFoundError:
            return None  # compacted away while verify ran
    if path.suffix != store.SEGMENT_SUFFIX:  # a hot point file
        from bathos.catalog.metrics import check_hot_file

        why = check_hot_file(path) if path.exists() else None
        return UnreadableFile(path, why) if why else None
    import duckdb

    damaged = segments.damage([path], columns)
    if damaged:
        return UnreadableFile(path, damaged[path])
    every = "record" if "record" in columns else "key"  # the column that holds the most
    try:
        duckdb.connect(":memory:").execute(
            f"SELECT count(*), max(length({every}::VARCHAR)) "
            f"FROM read_parquet({schema.sql_paths([path])})"
        ).fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        return UnreadableFile(path, f"unreadable Parquet segment ({first_line})")
    return None


def _damaged_now(paths: list[Path]) -> list[Path]:
    """The segments among `paths` that are damaged (not merely removed by a compactor since the
    query began), each warned about."""
    found = [(p, why) for p, why in segments.damage(paths).items() if p.exists()]
    for path, why in found:
        store.warn_skipped(UnreadableFile(path, why))
    return [p for p, _ in found]


_NAMED_IDS = 1000  # above: one query, reading the outcome of every run it lists


def _listed(con: duckdb.DuckDBPyConnection, query: RunQuery) -> Rows:
    """The listing columns of the runs `query` picks. The outcome is read from each run's record,
    which a query scanning every run should not read: the stored columns of the newest few are
    picked first, then the outcomes of those runs alone (benchmarks/bench_catalog.py)."""
    if query.limit is None or query.limit > _NAMED_IDS:
        return _fetched(con, *query.to_sql(LISTING_COLUMNS))
    stored = [c for c in LISTING_COLUMNS if c in schema.COLUMNS]
    found = _fetched(con, *query.to_sql(stored))
    picked = found.tuples()
    starts = [row[stored.index("started_at")] for row in picked]
    outcomes: dict[str, str | None] = {}
    if picked and None not in starts:  # the time bound lets DuckDB skip older row groups
        outcomes = dict(con.execute(
            f"SELECT id, outcome FROM runs WHERE started_at >= ? AND id IN "
            f"({', '.join('?' * len(picked))})", [min(starts), *(row[0] for row in picked)]
        ).fetchall())
    return Rows((*found.columns, "outcome"), (*found.types, "VARCHAR"),
                [(*row, outcomes.get(row[0])) for row in picked])


def _fetched(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> Rows:
    return Rows.from_relation(con.sql(sql, params=list(params) or None))
