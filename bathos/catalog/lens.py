"""The read side: an in-memory DuckDB over live segments and hot fragments, with views.

Views:
    runs          one row per run (the newest state of each id); flat columns, nested parts as JSON
    outputs       one row per recorded output file
    dependencies  one row per file a run depended on (script, modules, sidecar, inputs)
    metrics       one row per metric point a run logged (bathos.catalog.metrics)
    campaigns     one row per campaign, the fold of its events (bathos.campaigns)
    campaign_runs one row per member of a campaign: campaign_id, run_id, added_at

No database file exists, so a read never waits on a lock, and a fragment is visible the moment it
lands. Unreadable files are skipped and reported through `problems`. Hot rows are loaded in
batches, and beyond SPILL_ROWS of them written to Parquet in a scratch directory inside the
catalog, so a reader's memory stays bounded however many runs are hot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from bathos.catalog import metrics, schema, segments, store
from bathos.errors import QueryTimeout, UnreadableFile

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("bathos.catalog")
T = TypeVar("T")

READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
VIEWS = ("runs", "outputs", "dependencies", "metrics", "campaigns", "campaign_runs")
EXPLAIN_ANALYZE = re.compile(r"\bexplain\s+analy[sz]e\b", re.IGNORECASE)
SCRATCH = ".scratch"
# Fragments parsed before their rows go to DuckDB in one statement.
BATCH_ROWS = 2_000
# Hot rows a connection keeps in memory; beyond that they are written to Parquet in its scratch
# directory, so a reader's memory stays bounded however many runs are hot (benchmarks/
# bench_memory.py prints the peak).
SPILL_ROWS = 10_000
# Segments other catalogs sent (bth sync) that make a read compact first, as hot runs do.
ARRIVALS_COMPACT_AT = 8


def scratch_dir(catalog: Path) -> Path:
    """A directory of its own under `catalog/.scratch` for one connection's spill files; made
    only when something spills, removed when the connection closes."""
    return catalog / SCRATCH / f"{os.uname().nodename}-{os.getpid()}-{os.urandom(4).hex()}"


def remove_stale_scratch(catalog: Path, now: float) -> None:
    """Remove what a killed reader or compactor left in `catalog/.scratch`: directories of dead
    processes on this host, and any older than a day (from other hosts sharing the catalog)."""
    root = catalog / SCRATCH
    if not root.is_dir():
        return
    host = os.uname().nodename
    for path in root.iterdir():
        owner = path.name.rsplit("-", 2)  # host, pid, random
        with contextlib.suppress(FileNotFoundError):
            dead = (len(owner) == 3 and owner[0] == host and owner[1].isdigit()
                    and not store.is_pid_alive(int(owner[1])))
            if dead or now - path.stat().st_mtime > 86_400:
                shutil.rmtree(path, ignore_errors=True)


def newest_of_each_run(tiebreak: str | None = None) -> str:
    """The QUALIFY clause that keeps one row per run id: the newest `updated_at`, then `tiebreak`
    (an ORDER BY term) among rows updated at the same moment."""
    order = "updated_at DESC" + (f", {tiebreak}" if tiebreak else "")
    return f"QUALIFY row_number() OVER (PARTITION BY id ORDER BY {order}) = 1"


def open_duckdb(scratch: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC whose temporary files go to `scratch`, inside the catalog (its
    default, `.tmp` in the working directory, would also be readable by every query)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # it would print into bth sql's output
    con.execute(f"SET temp_directory = {schema.sql_string(scratch)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


class HotRows:
    """Hot records loaded into DuckDB a batch at a time, as the view `hot`.

    Up to SPILL_ROWS rows stay in memory; past that they go to Parquet files in `scratch`, so
    memory stays bounded however many fragments there are. Where `scratch` cannot be written
    (a read-only catalog), every row stays in memory.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, scratch: Path) -> None:
        self.con, self.scratch = con, scratch
        self.count = 0
        self._pending: list[str] = []
        self._held = 0
        self._parts: list[Path] = []
        self._spill_rows: float = SPILL_ROWS
        self._create()

    def _create(self) -> None:
        typed = ", ".join(f'"{name}" {kind}' for name, kind in schema.COLUMNS.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE hot_rows ({typed})")

    def add(self, record: schema.Record) -> None:
        self._pending.append(json.dumps(schema.flatten(record), separators=(",", ":")))
        self.count += 1
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            # One small JSON document per row: from_json over one array of them all would hold
            # the whole parsed array at once.
            structure = schema.sql_string(schema.json_structure())
            self.con.execute(
                f"INSERT INTO hot_rows SELECT unnest(from_json(j, {structure})) "
                "FROM unnest(?::VARCHAR[]) AS t(j)", [self._pending])
            self._held += len(self._pending)
            self._pending = []
        if self._held >= self._spill_rows:
            self._spill()

    def _spill(self) -> None:
        part = self.scratch / f"hot-{len(self._parts):05d}.parquet"
        try:
            self.scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.info("keeping every hot row in memory: cannot write %s (%s)", self.scratch, exc)
            self._spill_rows = math.inf
            return
        self.con.execute(f"COPY hot_rows TO {schema.sql_string(part)} (FORMAT parquet)")
        self._parts.append(part)
        self._held = 0
        self._create()

    def finish(self) -> None:
        """Load what is pending and define the view `hot` over every row added."""
        self._flush()
        cool = (f" UNION ALL SELECT {_columns_sql()} FROM read_parquet("
                f"{schema.sql_paths(self._parts)})") if self._parts else ""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW hot AS SELECT * FROM hot_rows{cool}")


class CompactionDue(Exception):
    """More finished runs are hot than a connection was asked to accept."""


@attrs.define
class Lens:
    """An open read of the catalog: `with lens.connect(catalog) as con: ...` closes it and
    removes its scratch directory."""

    con: duckdb.DuckDBPyConnection
    scratch: Path
    finished_hot: int = 0
    segments: list[Path] = attrs.field(factory=list)  # the live segments the views read
    problems: list[UnreadableFile] = attrs.field(factory=list)

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _columns_sql(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in schema.COLUMNS)


def connect(catalog: Path, *, compact_above: int | None = None,
            skip: Collection[Path] = (), with_metrics: bool = False,
            with_campaigns: bool = False) -> Lens:
    """An in-memory DuckDB with the views over the catalog's live segments (less `skip`) and hot
    fragments, locked read-only; unreadable files are skipped with a warning. CompactionDue as
    soon as more than `compact_above` finished runs are found hot (the rest is not read), or
    (with `compact_above`) ARRIVALS_COMPACT_AT segments other catalogs sent are live.

    The `metrics` view is defined only `with_metrics`: DuckDB binds a view when it is created,
    which opens every hot point file, so a query that does not name it does not pay for it; so
    are `campaigns` and `campaign_runs` (every campaign's events are read)."""
    scratch = scratch_dir(catalog)
    opened = Lens(open_duckdb(scratch), scratch)
    try:
        _load(opened, catalog, compact_above, skip)
        if with_metrics:
            points = metrics.live_files(catalog, skip, opened.problems)
            view = metrics.view_sql(points.hot, points.cool, needs_dedup=points.needs_dedup)
            opened.con.execute(f"CREATE VIEW metrics AS {view}")
        if with_campaigns:
            _create_campaign_views(opened.con, catalog, opened.problems)
    except BaseException:
        opened.close()
        raise
    for problem in opened.problems:
        store.warn_skipped(problem)
    root = schema.sql_string(os.path.join(store.runs_root(catalog), ""))
    opened.con.execute(f"SET allowed_directories = [{root}]")
    opened.con.execute("SET enable_external_access = false")
    opened.con.execute("SET lock_configuration = true")
    return opened


def _load(opened: Lens, catalog: Path, compact_above: int | None,
          skip: Collection[Path]) -> None:
    """Load the hot rows and define the views over them and the live segments."""
    hot = HotRows(opened.con, opened.scratch)
    # Hot before cool: a compaction in between then shows a run twice (the hot row wins), never
    # zero times.
    for directory in store.project_dirs(catalog):
        for record in store.load_hot(directory, opened.problems):
            hot.add(record)
            opened.finished_hot += record.get("status") != "running"
            if compact_above is not None and opened.finished_hot > compact_above:
                raise CompactionDue
    hot.finish()
    opened.segments, needs_dedup = live_segments(catalog, skip, opened.problems)
    if compact_above is not None and sum(
            segments.is_arrival_name(p.name) for p in opened.segments) >= ARRIVALS_COMPACT_AT:
        raise CompactionDue  # each read would deduplicate them all
    _create_views(opened.con, opened.segments, needs_dedup, has_hot=hot.count > 0)


def live_segments(catalog: Path, skip: Collection[Path] = (),
                  problems: list[UnreadableFile] | None = None) -> tuple[list[Path], bool]:
    """The live segments of every project (less `skip`), and whether some project may hold an
    id twice (it has no manifest); truncated ones are left out and added to `problems`."""
    found: list[Path] = []
    needs_dedup = False
    for directory in store.project_dirs(catalog):
        readable, unique = segments.readable_segments(directory, skip, problems)
        found += readable
        needs_dedup |= not unique
    return found, needs_dedup


def _create_views(con: duckdb.DuckDBPyConnection, segment_paths: list[Path], needs_dedup: bool,
                  *, has_hot: bool) -> None:
    if segment_paths:
        cool = f"SELECT {_columns_sql()} FROM read_parquet({schema.sql_paths(segment_paths)})"
    else:
        cool = "SELECT * FROM hot WHERE false"
    # Hot rows shadow cool ones by id; with no hot rows the anti-join, a scan of every id, is moot.
    stored = (
        f"SELECT * FROM ({cool}) WHERE id NOT IN (SELECT id FROM hot) "
        "UNION ALL SELECT * FROM hot"
    ) if has_hot else cool
    if needs_dedup:
        stored = f"SELECT * FROM ({stored}) {newest_of_each_run()}"
    derived = ", ".join(f"{sql} AS {name}" for name, sql in schema.DERIVED_SQL.items())
    plain = ", ".join(n for n in schema.COLUMNS if n != "record")
    con.execute(f"CREATE VIEW runs AS SELECT {plain}, {derived}, record FROM ({stored})")
    con.execute(
        """CREATE VIEW outputs AS
           SELECT id AS run_id, project, started_at, o.path, o.size, o.sha256, o.mtime
           FROM (SELECT id, project, started_at, unnest(outputs) AS o FROM runs)"""
    )
    con.execute(
        """CREATE VIEW dependencies AS
           SELECT id AS run_id, project, started_at, d.path, d.role, d.sha256, d.git_blob, d.size
           FROM (SELECT id, project, started_at, unnest(dependencies) AS d FROM runs)"""
    )


CAMPAIGN_COLUMNS = {
    "id": "VARCHAR", "project": "VARCHAR", "status": "VARCHAR", "mode": "VARCHAR",
    "question": "VARCHAR", "hypothesis": "VARCHAR", "outcome": "VARCHAR", "note": "VARCHAR",
    "created_at": "TIMESTAMP", "concluded_at": "TIMESTAMP", "n_runs": "BIGINT",
}


def _create_campaign_views(con: duckdb.DuckDBPyConnection, catalog: Path,
                           problems: list[UnreadableFile]) -> None:
    """The tables `campaigns` and `campaign_runs`, folded from the event files and the
    `campaign_id` the runs' records name (bathos.campaigns says how membership is decided)."""
    import datetime as dt

    from bathos import campaigns

    recorded: dict[str, list[tuple[str, dt.datetime]]] = {}
    for campaign, run_id, started in con.execute(
            "SELECT campaign_id, id, started_at FROM runs WHERE campaign_id IS NOT NULL "
            "AND started_at IS NOT NULL").fetchall():
        recorded.setdefault(campaign, []).append((run_id, started.replace(tzinfo=dt.UTC)))
    found = campaigns.load_all(catalog, recorded, problems)
    rows = [[getattr(c, name) if name != "n_runs" else len(c.run_ids)
             for name in CAMPAIGN_COLUMNS] for c, _ in found]
    joined = [(c.id, run_id, when) for c, runs in found for run_id, when in runs.items()]
    _table(con, "campaigns", CAMPAIGN_COLUMNS, rows)
    _table(con, "campaign_runs",
           {"campaign_id": "VARCHAR", "run_id": "VARCHAR", "added_at": "TIMESTAMP"}, joined)


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str],
           rows: list[Any]) -> None:
    """A temporary table of `rows` (times aware or naive UTC), loaded a column at a time."""
    import datetime as dt

    typed = ", ".join(f"{column} {kind}" for column, kind in columns.items())
    con.execute(f"CREATE TEMP TABLE {name} ({typed})")
    if not rows:
        return
    values = [[v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) else v
               for v in column] for column in zip(*rows, strict=True)]
    unnested = ", ".join(f"unnest(?::{kind}[])" for kind in columns.values())
    con.execute(f"INSERT INTO {name} SELECT {unnested}", values)


def run(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T],
        timeout: float | None = None) -> T:
    """`work(con)` in a thread of its own, so that Ctrl-C and a time limit can stop DuckDB, which
    checks for neither while it runs a query: on KeyboardInterrupt (raised in the waiting thread)
    the query is interrupted and KeyboardInterrupt re-raised; after `timeout` seconds, QueryTimeout.
    """
    outcome: list[tuple[bool, Any]] = []
    # An Event, not Thread.join: a KeyboardInterrupt inside join marks a running thread ended.
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, work(con)))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append((False, exc))
        finally:
            done.set()

    limit = math.inf if timeout is None else timeout
    deadline = time.monotonic() + limit
    threading.Thread(target=target, name="bathos-query", daemon=True).start()
    try:
        # Short waits: a signal may be delivered to one of DuckDB's threads, and Python handles
        # it only when this thread runs again.
        while not done.wait(0.05):
            if time.monotonic() > deadline:
                con.interrupt()
                done.wait()
                if not outcome[0][0]:
                    raise QueryTimeout(limit) from None
    except KeyboardInterrupt:
        con.interrupt()
        done.wait()
        raise
    ok, value = outcome[0]
    if ok:
        return cast(T, value)
    raise value


def statement_types(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [str(s.type).rsplit(".", 1)[-1] for s in con.extract_statements(query)]
