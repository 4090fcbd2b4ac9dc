"""Metric history: the points a run logs (run, key, step, value, wall time), kept beside the run.

    $BTH_METRICS_PATH (the run's scratch)   what it logs, one JSON object a line:
                                            {"step": 4, "time": 1764590000.25, "loss": 0.2}
    runs/<project>/metrics/<run id>.jsonl   its points once it ended (hot), one key a line:
                                            {"key": "loss", "step": [...], "value": [...],
                                             "time": [...]}
    runs/<project>/metrics/seg-*.parquet    compacted points, sorted by run, key and step,
    runs/<project>/metrics/segments.manifest  named by their own manifest (bathos.catalog.segments)

A line of the first file is untrusted input: an object whose `step` (optional) is an integer,
`time` (optional) seconds since the epoch, and every other value a number; any other line is
counted as bad and left out. A point without a step gets one more than its key's previous step
(0 for the key's first point). A run keeps at most MAX_POINTS points; every value counts for the
last value per key, which the run also keeps as a result. Hot point files of a run shadow its rows
in segments, as hot fragments shadow cool rows.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.catalog import schema, segments, store
from bathos.errors import UnreadableFile
from bathos.fsutil import atomic_write_bytes
from bathos.ids import is_run_id

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger("bathos.catalog")

METRICS_DIR = "metrics"
POINTS_SUFFIX = ".jsonl"
MAX_POINTS = 1_000_000
# Points of one key written on one line of a hot point file (DuckDB reads objects up to 16 MB).
CHUNK_POINTS = 10_000
COLUMNS = {"run_id": "VARCHAR", "project": "VARCHAR", "key": "VARCHAR", "step": "BIGINT",
           "value": "DOUBLE", "time": "TIMESTAMP"}
_INT64 = 2**63
_NUMBER = (int, float)


@attrs.define
class Points:
    """The points of one run, as columns, and what reading them found."""

    keys: list[str] = attrs.field(factory=list)
    steps: list[int] = attrs.field(factory=list)
    values: list[float] = attrs.field(factory=list)
    times: list[float | None] = attrs.field(factory=list)
    last: dict[str, float] = attrs.field(factory=dict)  # each key's last value, of every point
    bad: int = 0  # lines left out
    dropped: int = 0  # points past MAX_POINTS

    def __len__(self) -> int:
        return len(self.keys)


def read_logged(path: Path, cap: int = MAX_POINTS) -> Points:
    """The points a run logged in `path` (a missing file has none), read a block of lines at a
    time; bad lines and points past `cap` are counted, not raised."""
    points = Points()
    next_step: dict[str, int] = {}
    try:
        with open(path, "rb") as fh:
            while block := fh.readlines(BLOCK_BYTES):
                _add_items(points, _items(block), cap, next_step)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("metrics not recorded: cannot read %s: %s", path, exc.strerror or exc)
    return points


BLOCK_BYTES = 1024 * 1024


def _items(block: list[bytes]) -> list[Any]:
    """The JSON value of each line (None for one that is not JSON), blank lines left out: parsed
    as one array when every line is one object (a third of the time of a parse a line), else a
    line at a time."""
    lines = [line.strip() for line in block]
    lines = [line for line in lines if line]
    if all(line[:1] == b"{" and line[-1:] == b"}" for line in lines):
        try:
            items = json.loads(b"[" + b",".join(lines) + b"]")
        except (ValueError, RecursionError):
            pass
        else:
            if len(items) == len(lines):  # else a line held more than one object
                return list(items)
    return [_loads(line) for line in lines]


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _add_items(points: Points, items: list[Any], cap: int, next_step: dict[str, int]) -> None:
    keys, steps, values, times, last = (points.keys, points.steps, points.values, points.times,
                                        points.last)
    for item in items:
        parsed = _checked(item)
        if parsed is None:
            points.bad += 1
            continue
        step, at, logged = parsed
        for key, value in logged.items():
            point_step = next_step.get(key, 0) if step is None else step
            next_step[key] = point_step + 1
            last[key] = value
            if len(keys) >= cap:
                points.dropped += 1
                continue
            keys.append(key)
            steps.append(point_step)
            values.append(float(value))
            times.append(at)


def _checked(item: Any) -> tuple[int | None, float | None, dict[str, Any]] | None:
    """(step, time, values) of one logged line, or None when it is not a good one."""
    if type(item) is not dict:
        return None
    step, at = item.pop("step", None), item.pop("time", None)
    if step is not None and (type(step) is not int or not -_INT64 <= step < _INT64):
        return None
    if at is not None and type(at) not in _NUMBER:
        return None
    if not item or not all(type(v) in _NUMBER for v in item.values()):
        return None
    return step, (None if at is None else float(at)), item


def warn_about(points: Points, run_id: str) -> None:
    """One line for the lines and points a run's metrics left out."""
    if points.bad:
        log.warning("run %s: ignored %d metric line(s) that were not a JSON object of numbers "
                    "(with an integer \"step\" and a \"time\" in seconds, both optional)",
                    run_id, points.bad)
    if points.dropped:
        log.warning("run %s: kept the first %d metric points, left out %d more", run_id,
                    MAX_POINTS, points.dropped)


# Hot point files -------------------------------------------------------------------------------
def metrics_dir(project_dir: Path) -> Path:
    return project_dir / METRICS_DIR


def points_path(catalog: Path, project: str, run_id: str) -> Path:
    return metrics_dir(store.project_dir(catalog, project)) / f"{run_id}{POINTS_SUFFIX}"


def encode(points: Points) -> bytes:
    """A run's points as a hot point file: per key (in order of first use), lines of at most
    CHUNK_POINTS of its points in the order logged."""
    by_key: dict[str, tuple[list[int], list[float], list[float | None]]] = {}
    for key, step, value, at in zip(points.keys, points.steps, points.values, points.times,
                                    strict=True):
        columns = by_key.get(key) or by_key.setdefault(key, ([], [], []))
        columns[0].append(step)
        columns[1].append(value)
        columns[2].append(at)
    lines = [
        json.dumps({"key": key, "step": steps[n:n + CHUNK_POINTS],
                    "value": values[n:n + CHUNK_POINTS], "time": times[n:n + CHUNK_POINTS]},
                   separators=(",", ":"), ensure_ascii=False)
        for key, (steps, values, times) in by_key.items()
        for n in range(0, len(steps), CHUNK_POINTS)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")


def write_points(catalog: Path, project: str, run_id: str, data: bytes) -> Path:
    """Store a run's encoded points beside it (atomic)."""
    path = points_path(catalog, project, run_id)
    atomic_write_bytes(path, data)
    return path


def hot_files(directory: Path) -> list[Path]:
    """The hot point files of a project's metrics directory (named by a run id)."""
    try:
        with os.scandir(directory) as entries:
            return sorted(Path(e.path) for e in entries if e.name.endswith(POINTS_SUFFIX)
                          and is_run_id(e.name[:-len(POINTS_SUFFIX)]) and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def check_hot_file(path: Path) -> str | None:
    """Why readers would skip lines of a hot point file, or None when it reads whole."""
    try:
        return check_points(path.read_bytes())
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"


def check_points(raw: bytes) -> str | None:
    """Why readers would skip lines of an encoded point file, or None when it reads whole."""
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            item = json.loads(line)
            ok = (type(item) is dict and isinstance(item.get("key"), str)
                  and isinstance(item.get("step"), list) and all(
                      isinstance(item.get(c), list) and len(item[c]) == len(item["step"])
                      for c in ("value", "time")))
        except (ValueError, RecursionError):
            ok = False
        if not ok:
            return f"line {number} is not a chunk of metric points"
    return None


# SQL -------------------------------------------------------------------------------------------
def hot_sql(paths: list[Path]) -> str:
    """The points of hot point files, in the view's columns (a line DuckDB cannot read is
    skipped; `bth verify` names the file)."""
    columns = "{key: 'VARCHAR', step: 'BIGINT[]', value: 'DOUBLE[]', time: 'DOUBLE[]'}"
    return (
        "SELECT regexp_extract(filename, '([^/]+)\\.jsonl$', 1) AS run_id, "
        "regexp_extract(filename, '([^/]+)/metrics/[^/]+$', 1) AS project, key, step, value, "
        "make_timestamp((t * 1e6)::BIGINT) AS time FROM (SELECT filename, key, unnest(step) "
        "AS step, unnest(value) AS value, unnest(time) AS t FROM read_json("
        f"{schema.sql_paths(paths)}, columns = {columns}, format = 'newline_delimited', "
        "filename = true, ignore_errors = true))")


def cool_sql(paths: list[Path], *, needs_dedup: bool) -> str:
    """The points of metric segments; without a manifest, each run's from one segment only."""
    names = ", ".join(COLUMNS)
    if not needs_dedup:
        return f"SELECT {names} FROM read_parquet({schema.sql_paths(paths)})"
    return (f"SELECT {names} FROM read_parquet({schema.sql_paths(paths)}, filename = true) "
            "QUALIFY filename = max(filename) OVER (PARTITION BY run_id)")


def empty_sql() -> str:
    return "SELECT " + ", ".join(f"NULL::{kind} AS {name}" for name, kind in COLUMNS.items()) \
        + " WHERE false"


def view_sql(hot: list[Path], cool: list[Path], *, needs_dedup: bool) -> str:
    """The `metrics` view: cool points less the runs with a hot point file, and the hot ones."""
    parts = []
    if cool:
        shadow = ""
        if hot:
            ids = ", ".join(schema.sql_string(p.name[:-len(POINTS_SUFFIX)]) for p in hot)
            shadow = f" WHERE run_id NOT IN ({ids})"
        parts.append(f"SELECT * FROM ({cool_sql(cool, needs_dedup=needs_dedup)}){shadow}")
    if hot:
        parts.append(hot_sql(hot))
    return " UNION ALL ".join(parts) or empty_sql()


@attrs.frozen
class Files:
    """The point files readers use: hot ones, live metric segments, and whether some project
    has no manifest (its segments may hold a run twice)."""

    hot: list[Path]
    cool: list[Path]
    needs_dedup: bool


def live_files(catalog: Path, skip: Iterable[Path] = (),
               problems: list[UnreadableFile] | None = None) -> Files:
    """Every project's point files that readers use (one directory listing per project that
    has points; those in `skip` left out, and truncated segments, added to `problems`)."""
    hot: list[Path] = []
    cool: list[Path] = []
    needs_dedup = False
    skipped = set(skip)
    for project_dir in store.project_dirs(catalog):
        directory = metrics_dir(project_dir)
        if not directory.is_dir():
            continue
        hot += hot_files(directory)
        readable, unique = segments.readable_segments(directory, skipped, problems)
        cool += readable
        needs_dedup |= not unique and bool(readable)
    return Files(hot, cool, needs_dedup)


def arrange(stored: pl.DataFrame, running: list[str], ids: list[str],
            keys: list[str] | None) -> pl.DataFrame:
    """The frame `Catalog.metrics` returns: the `stored` points, and those the `running` runs
    have written to their scratch so far, in the order of `ids`, then by key and step."""
    import polars as pl

    from bathos.config import scratch_dir
    from bathos.runner import METRICS_FILE

    live = [frame(read_logged(scratch_dir(run_id) / METRICS_FILE), run_id) for run_id in running]
    found = pl.concat([stored.cast(frame_schema()), *live])  # type: ignore[arg-type]
    if keys is not None:
        found = found.filter(pl.col("key").is_in(keys))
    order = {run_id: n for n, run_id in enumerate(ids)}
    return found.sort(pl.col("run_id").replace_strict(order, return_dtype=pl.Int64), "key",
                      "step", maintain_order=True)


def frame(points: Points, run_id: str) -> pl.DataFrame:
    """Points read from a file as the long frame `Catalog.metrics` returns."""
    import datetime as dt

    import polars as pl

    epoch = dt.datetime(1970, 1, 1)
    return pl.DataFrame({
        "run_id": [run_id] * len(points), "key": points.keys, "step": points.steps,
        "value": points.values,
        "time": [None if t is None else epoch + dt.timedelta(seconds=t) for t in points.times],
    }, schema=frame_schema())


def frame_schema() -> dict[str, Any]:
    """The columns of the frame `Catalog.metrics` returns, as polars types."""
    import polars as pl

    return {"run_id": pl.String, "key": pl.String, "step": pl.Int64, "value": pl.Float64,
            "time": pl.Datetime("us")}
