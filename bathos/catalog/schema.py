"""The shape of records on disk: upgrades of older records, and the flat columns of the `runs` view.

`flatten` is the one place that derives view columns from a record: compaction stores its output in
Parquet segments and the reader applies it to hot fragments, so both tiers answer the same query.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from bathos.errors import CatalogError
from bathos.models import SCHEMA_VERSION

Record = dict[str, Any]
Upgrade = Callable[[Record], Record]
_UPGRADES: dict[int, Upgrade] = {}


def upgrade_step(from_version: int) -> Callable[[Upgrade], Upgrade]:
    """Register the step that turns a record of `from_version` into one of `from_version + 1`."""

    def register(fn: Upgrade) -> Upgrade:
        _UPGRADES[from_version] = fn
        return fn

    return register


def upgrade(record: Record) -> Record:
    """Bring a record of any known older schema to the current one."""
    version = record.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise CatalogError(
            f"record {record.get('id', '?')} has schema_version {version!r}, newer than this "
            f"bathos understands ({SCHEMA_VERSION}) (upgrade bathos)"
        )
    while version < SCHEMA_VERSION:
        record = _UPGRADES[version](dict(record))
        version += 1
        record["schema_version"] = version
    return record


@upgrade_step(0)
def _v0_to_v1(old: Record) -> Record:
    """Version 0 (the first public bathos) used flat git/host fields and other names."""
    new = {k: v for k, v in old.items() if not k.startswith(("git_", "host_"))}
    new["id"] = new.pop("run_id", new.get("id"))
    new["project"] = new.pop("project_slug", new.get("project", "default"))
    new["status"] = {"RUNNING": "running", "COMPLETED": "completed", "FAILED": "failed"}.get(
        str(new.pop("state", new.get("status", "completed"))).upper(), "completed"
    )
    new["script"] = new.pop("script_path", new.get("script"))
    new.setdefault("updated_at", new.get("ended_at") or new["started_at"])
    if "git_commit" in old:
        new["git"] = {
            "repo_root": old.get("git_repo", ""),
            "commit": old["git_commit"],
            "branch": old.get("git_branch"),
            "dirty": bool(old.get("git_dirty", False)),
        }
    if "host_name" in old:
        new["host"] = {"hostname": old["host_name"], "user": old.get("host_user", ""),
                       "pid": int(old.get("host_pid", 0))}
    return new


# Column name -> DuckDB type, in view order. `record` holds the whole upgraded record.
COLUMNS: dict[str, str] = {
    "id": "VARCHAR",
    "project": "VARCHAR",
    "status": "VARCHAR",
    "name": "VARCHAR",
    "script": "VARCHAR",
    "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "heartbeat_at": "TIMESTAMP",
    "duration_s": "DOUBLE",
    "exit_code": "INTEGER",
    "signal": "VARCHAR",
    "hostname": "VARCHAR",
    "user": "VARCHAR",
    "commit": "VARCHAR",
    "branch": "VARCHAR",
    "dirty": "BOOLEAN",
    "slurm_job_id": "VARCHAR",
    "slurm_array_job_id": "VARCHAR",
    "slurm_array_task_id": "VARCHAR",
    "tags": "VARCHAR[]",
    "parent_run_id": "VARCHAR",
    "campaign_id": "VARCHAR",
    "agent_mode": "VARCHAR",
    "schema_version": "INTEGER",
    "argv": "VARCHAR[]",
    "params": "JSON",
    "results": "JSON",
    "dependencies": "STRUCT(path VARCHAR, role VARCHAR, sha256 VARCHAR, git_blob VARCHAR, "
                    "size BIGINT)[]",
    "outputs": "STRUCT(path VARCHAR, size BIGINT, sha256 VARCHAR, mtime DOUBLE)[]",
    "record": "JSON",
}
_DEPENDENCY_FIELDS = ("path", "role", "sha256", "git_blob", "size")
_OUTPUT_FIELDS = ("path", "size", "sha256", "mtime")

# Columns computed from `record` in the view rather than stored twice. (argv, params, results,
# dependencies and outputs are stored: listings, lineage and freshness read them, and parsing
# `record` for them costs several times the whole query.)
DERIVED_SQL: dict[str, str] = {
    "git": "record->'git'",
    "host": "record->'host'",
    "slurm": "record->'slurm'",
    "environment": "record->'environment'",
    "logs": "record->'logs'",
    "sidecar": "record->'sidecar'",
    "error": "record->>'error'",
    "cwd": "record->>'cwd'",
}


def _timestamp(value: Any) -> str | None:
    """ISO text as DuckDB reads it for a naive UTC TIMESTAMP (an offset is converted to UTC)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.isoformat()


def flatten(record: Record) -> Record:
    """The stored view columns of one (current-schema) record."""
    git = record.get("git") or {}
    host = record.get("host") or {}
    slurm = record.get("slurm") or {}
    return {
        "id": record["id"],
        "project": record.get("project"),
        "status": record.get("status"),
        "name": record.get("name"),
        "script": record.get("script"),
        "started_at": _timestamp(record.get("started_at")),
        "ended_at": _timestamp(record.get("ended_at")),
        "updated_at": _timestamp(record.get("updated_at")),
        "heartbeat_at": _timestamp(record.get("heartbeat_at")),
        "duration_s": record.get("duration_s"),
        "exit_code": record.get("exit_code"),
        "signal": record.get("signal"),
        "hostname": host.get("hostname"),
        "user": host.get("user"),
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "slurm_job_id": slurm.get("job_id"),
        "slurm_array_job_id": slurm.get("array_job_id"),
        "slurm_array_task_id": slurm.get("array_task_id"),
        "tags": list(record.get("tags") or ()),
        "parent_run_id": record.get("parent_run_id"),
        "campaign_id": record.get("campaign_id"),
        "agent_mode": record.get("agent_mode"),
        "schema_version": record.get("schema_version"),
        "argv": [str(a) for a in argv] if isinstance(argv := record.get("argv"), list) else None,
        "params": record.get("params") or {},
        "results": record.get("results") or {},
        "dependencies": _items(record.get("dependencies"), _DEPENDENCY_FIELDS),
        "outputs": _items(record.get("outputs"), _OUTPUT_FIELDS),
        "record": record,
    }


def _items(value: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """A list of recorded files with exactly the struct's fields."""
    if not isinstance(value, list):
        return []
    return [{f: item.get(f) for f in fields} for item in value if isinstance(item, dict)]


def json_structure() -> str:
    """The `from_json` structure that turns one flattened row (a JSON object) into typed columns."""
    return json.dumps(COLUMNS)


def sql_paths(paths: list[Any]) -> str:
    """A DuckDB list literal of file paths, quoted."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
