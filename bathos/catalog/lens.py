"""The read side: an in-memory DuckDB over live segments and hot fragments, with views.

Views:
    runs          one row per run (the newest state of each id); flat columns, nested parts as JSON
    outputs       one row per recorded output file
    dependencies  one row per file a run depended on (script, modules, sidecar, inputs)

No database file exists, so a read never waits on a lock, and a fragment is visible the moment it
lands. Unreadable files are skipped and reported through `problems`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bathos.catalog import schema, segments, store

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("bathos.catalog")

READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
VIEWS = ("runs", "outputs", "dependencies")
EXPLAIN_ANALYZE = re.compile(r"\bexplain\s+analy[sz]e\b", re.IGNORECASE)


@attrs.define
class Snapshot:
    """What one read saw: live segments, hot rows, and the files it had to skip."""

    segments: list[Path] = attrs.field(factory=list)
    hot: list[schema.Record] = attrs.field(factory=list)
    needs_dedup: bool = False
    problems: list[store.UnreadableFile] = attrs.field(factory=list)


def take_snapshot(catalog: Path) -> Snapshot:
    """List what a read will use; warn (once per file) about anything unreadable."""
    snap = Snapshot()
    for directory in store.project_dirs(catalog):
        # Hot before cool: a compaction in between then shows a run twice (the hot row wins),
        # never zero times.
        records, bad = store.load_hot(directory)
        live, unique = segments.live_segments(directory)
        snap.needs_dedup |= not unique
        for seg in live:
            if segments.looks_complete(seg):
                snap.segments.append(seg)
            else:
                snap.problems.append(store.UnreadableFile(seg, "truncated Parquet segment"))
        snap.hot.extend(records)
        snap.problems.extend(bad)
    for problem in snap.problems:
        log.warning("skipping unreadable %s (run: bth verify --quarantine)", problem)
    return snap


def _columns_sql(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in schema.COLUMNS)


def hot_relation_sql() -> str:
    """SQL turning a JSON-array parameter of flattened rows into typed columns."""
    structure = schema.json_structure().replace("'", "''")
    return f"SELECT unnest(from_json(?::JSON, '{structure}'), recursive := true)"


def connect(snap: Snapshot, catalog: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the `runs` and `outputs` views over `snap`, locked read-only."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if snap.hot:
        rows = [schema.flatten(r) for r in snap.hot]
        con.execute(f"CREATE TEMP TABLE hot AS {hot_relation_sql()}", [json.dumps(rows)])
    else:  # typed and empty, without paying for from_json
        typed = ", ".join(f'"{name}" {kind}' for name, kind in schema.COLUMNS.items())
        con.execute(f"CREATE TEMP TABLE hot ({typed})")
    if snap.segments:
        cool = f"SELECT {_columns_sql()} FROM read_parquet({schema.sql_paths(snap.segments)})"
    else:
        cool = "SELECT * FROM hot WHERE false"
    # Hot rows shadow cool ones by id; with no hot rows the anti-join (~80 ms on 1M runs) is moot.
    stored = (
        f"SELECT * FROM ({cool}) WHERE id NOT IN (SELECT id FROM hot) "
        "UNION ALL SELECT * FROM hot"
    ) if snap.hot else cool
    if snap.needs_dedup:
        stored = (
            f"SELECT * FROM ({stored}) "
            "QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1"
        )
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
    root = str(store.runs_root(catalog)).replace("'", "''")
    con.execute(f"SET allowed_directories = ['{root}/']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def statement_types(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [str(s.type).rsplit(".", 1)[-1] for s in con.extract_statements(query)]
