"""Listings without starting DuckDB: each project's newest cool rows, kept beside its manifest.

After compaction replaces a project's manifest it writes `runs/<project>/segments.recent`: the
newest RECENT_ROWS rows of the live segments in the listing columns, exactly as a query of the
`runs` view gives them, with the names of the segments they were read from and whether they are all
the rows there are.

`newest` answers a listing (`bth ls`: project, since, until, status, tags, limit) from those rows
and the hot fragments, but only when that answer is provably the one the `runs` view gives: the
rows file names the segments the manifest names now, every segment is intact, no fragment is
unreadable, no automatic compaction is due, and in every project the kept rows are complete, or
reach past `since`, or hold enough matching runs at least as new as the oldest row read. Otherwise
it returns None and the caller asks DuckDB (which also prints the warnings).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bathos.catalog import schema, segments, store
from bathos.catalog.rows import LISTING_COLUMNS, Rows
from bathos.errors import UnreadableFile
from bathos.fsutil import atomic_write_bytes
from bathos.timespec import parse_iso_utc, parse_time

if TYPE_CHECKING:
    import duckdb

    from bathos.query import RunQuery

RECENT = "segments.recent"
RECENT_ROWS = 1000
# Criteria a listing from kept rows cannot judge (they need columns it does not keep).
_NEEDS_DUCKDB = ("script", "params", "host", "commit", "slurm_job", "output", "campaign",
                 "outcome")

# The listing columns of kept rows written by a bathos whose runs had no outcome (their header
# names no columns): still good, each row's outcome being none.
_BEFORE_OUTCOMES = [c for c in LISTING_COLUMNS if c != "outcome"]

Row = dict[str, Any]
Key = tuple[dt.datetime, str]


def write_recent(con: duckdb.DuckDBPyConnection, directory: Path, live: list[str]) -> None:
    """Keep the newest rows of the live segments `live` (names in `directory`) for listings;
    with a damaged segment among them, keep nothing new (listings then ask DuckDB).

    The file is JSON lines: a header naming the segments, then one row per line, newest first,
    so a listing parses only as many rows as it shows."""
    paths = [directory / n for n in live]
    if segments.damage(paths):
        return
    rows: list[Row] = []
    if paths:
        source = f"read_parquet({schema.sql_paths(paths)})"
        # The oldest start among the newest rows first (one column), so the full rows are read
        # from the few row groups that hold them.
        oldest = con.execute(f"SELECT started_at FROM {source} ORDER BY started_at DESC "
                             f"LIMIT 1 OFFSET {RECENT_ROWS}").fetchall()
        where = "WHERE started_at >= ?" if oldest else ""
        rows = Rows.from_relation(con.sql(
            f"SELECT {', '.join(map(schema.column_sql, LISTING_COLUMNS))} FROM {source} {where} "
            f"ORDER BY started_at DESC, id DESC LIMIT {RECENT_ROWS + 1}",
            params=list(oldest[0]) if oldest else None,
        )).to_dicts()
    header = {"segments": sorted(live), "complete": len(rows) <= RECENT_ROWS,
              "columns": list(LISTING_COLUMNS)}
    lines = [json.dumps(item, separators=(",", ":")) for item in [header, *rows[:RECENT_ROWS]]]
    atomic_write_bytes(directory / RECENT, "\n".join(lines).encode() + b"\n")


def read_recent(directory: Path, live: list[str]) -> tuple[Iterator[Row], bool] | None:
    """The kept rows (newest first, parsed as they are consumed) and whether they are all the rows
    of the live segments, if they were read from exactly the segments `live` (and hold today's
    listing columns)."""
    try:
        header, *lines = (directory / RECENT).read_bytes().splitlines()
        head = json.loads(header)
        columns = head.get("columns", _BEFORE_OUTCOMES)
        if head["segments"] != sorted(live) or columns not in (list(LISTING_COLUMNS),
                                                               _BEFORE_OUTCOMES):
            return None
        if columns == _BEFORE_OUTCOMES:  # kept before runs had outcomes: none of them has one
            return ({**json.loads(line), "outcome": None} for line in lines), bool(head["complete"])
        return (json.loads(line) for line in lines), bool(head["complete"])
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None


def listing_row(record: schema.Record) -> Row:
    """A hot record in the listing columns, as a query of the `runs` view gives them."""
    flat = schema.flatten(record)
    outcome = record.get("outcome")
    flat["outcome"] = outcome.get("label") if isinstance(outcome, dict) else None
    row = {name: flat[name] for name in LISTING_COLUMNS}
    for name in ("started_at", "ended_at"):
        if row[name] is not None:
            row[name] += "Z"
    if row["duration_s"] is not None:
        row["duration_s"] = float(row["duration_s"])
    return row


def _key(row: Row) -> Key | None:
    started = row.get("started_at")
    return (parse_iso_utc(started), row["id"]) if started else None


def newest(catalog: Path, query: RunQuery, compact_threshold: int) -> list[Row] | None:
    """The runs matching a listing query, newest first, or None when kept rows cannot tell."""
    if any(getattr(query, name) for name in _NEEDS_DUCKDB) or (query.limit or 0) < 0:
        return None
    listing = _Listing(query, compact_threshold)
    projects = set(query.projects() or ())
    matched: list[tuple[Key, Row]] = []
    for directory in store.project_dirs(catalog):
        if projects and directory.name not in projects:
            continue  # a project's runs live in its own directory (store.project_dir)
        found = listing.project(directory)
        if found is None:
            return None
        matched += found
    matched.sort(key=lambda kr: kr[0], reverse=True)
    return [row for _, row in (matched if query.limit is None else matched[: query.limit])]


class _Listing:
    """The criteria of one listing, applied project by project."""

    def __init__(self, query: RunQuery, compact_threshold: int) -> None:
        self.statuses, self.tags = set(query.statuses()), set(query.tags)
        self.compact_threshold, self.finished_hot = compact_threshold, 0
        self.since = parse_time(query.since) if query.since else None
        self.until = parse_time(query.until) if query.until else None
        self.need = math.inf if query.limit is None else query.limit

    def wanted(self, row: Row, key: Key) -> bool:
        return ((not self.statuses or row["status"] in self.statuses)
                and (self.since is None or key[0] >= self.since)
                and (self.until is None or key[0] < self.until)
                and self.tags <= set(row["tags"] or ()))

    def project(self, directory: Path) -> list[tuple[Key, Row]] | None:
        """Every run of the project that may be among the answer, or None if unknowable (also
        once a fragment is unreadable or an automatic compaction is due). Of the hot runs only
        the newest `need` that match are kept: older ones cannot be shown."""
        unreadable: list[UnreadableFile] = []
        shadowed: set[str] = set()
        newest_hot: list[tuple[Key, int, Row]] = []  # a heap, oldest first
        for n, record in enumerate(store.load_hot(directory, unreadable)):
            self.finished_hot += record.get("status") != "running"
            if unreadable or self.finished_hot > self.compact_threshold:
                return None
            row = listing_row(record)
            key = _key(row)
            if key is None:
                return None  # a hot run with no start time: DuckDB orders it
            shadowed.add(row["id"])
            if self.wanted(row, key):
                heapq.heappush(newest_hot, (key, n, row))
                if len(newest_hot) > self.need:
                    heapq.heappop(newest_hot)
        if unreadable:
            return None
        hot_found = [(key, row) for key, _, row in newest_hot]
        # Compaction folds only runs that ended (or were lost): no cool row is running.
        cool = (iter(()), True) if self.statuses == {"running"} else _cool_rows(directory)
        if cool is None:
            return None
        rows, complete = cool
        try:
            cool_found = self._scan(rows, complete, shadowed, hot_found)
        except (ValueError, KeyError, TypeError, RecursionError):  # a damaged line: ask DuckDB
            return None
        return None if cool_found is None else hot_found + cool_found

    def _scan(self, rows: Iterator[Row], complete: bool, shadowed: set[str],
              hot_found: list[tuple[Key, Row]]) -> list[tuple[Key, Row]] | None:
        """The kept rows that match, read newest first only as far as needed; None when the
        kept rows end before the answer is known."""
        found: list[tuple[Key, Row]] = []
        last: Key | None = None  # every cool row at least this new has been seen
        for row in rows:
            last = _key(row)
            if last is None:
                return None
            if self.since is not None and last[0] < self.since:
                return found  # this row and all older ones are outside the window
            if row["id"] in shadowed or not self.wanted(row, last):
                continue
            found.append((last, row))
            if _known_at_least(self.need, last, found, hot_found):
                return found
        if complete or self.need == 0 or (
                last is not None and _known_at_least(self.need, last, found, hot_found)):
            return found
        return None


def _known_at_least(need: float, last: Key, cool_found: list[tuple[Key, Row]],
                    hot_found: list[tuple[Key, Row]]) -> bool:
    """Whether `need` matching rows are at least as new as `last` (the oldest cool row seen)."""
    if len(cool_found) + len(hot_found) < need:
        return False
    return len(cool_found) + sum(1 for key, _ in hot_found if key >= last) >= need


def _cool_rows(directory: Path) -> tuple[Iterator[Row], bool] | None:
    """The kept rows of a project directory, or None when they are missing or out of date."""
    live = segments.read_manifest(directory)
    if live is None:
        return None if segments.segment_files(directory) else (iter(()), True)
    if segments.arrivals(directory):
        return None  # rows another catalog sent, that the kept rows do not know
    if not all(segments.looks_complete(directory / n) for n in live):
        return None
    return read_recent(directory, live)
