"""The shape of records on disk: upgrades of older records, the check every record read must pass,
and the flat columns of the `runs` view.

`flatten` is the one place that derives view columns from a record: compaction stores its output in
Parquet segments and the reader applies it to hot fragments, so both tiers answer the same query.
`problem` is the one check of a record's shape: readers skip what it rejects, compaction never folds
it, and `verify` reports it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from bathos import models
from bathos.config import SLUG_RE
from bathos.errors import CatalogError
from bathos.ids import RUN_ID_LENGTH, is_run_id_prefix
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


# Free-form parts of a record (params, results, fields this bathos does not know) nest at most this
# deep: deeper JSON costs every reader and writer recursion, and is never a result anyone reads.
MAX_NESTING = 32
_INT_RANGE = {"INTEGER": 2**31, "BIGINT": 2**63}
# Checks beyond a field's type, by field name.
_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "id": (lambda v: len(v) == RUN_ID_LENGTH and is_run_id_prefix(v), "a run id"),
    "project": (lambda v: SLUG_RE.match(v) is not None, "a project slug"),
}
Check = Callable[[Any, str], str | None]  # (value, its name) -> what is wrong, or None


def problem(record: Record) -> str | None:
    """What makes a (current-schema) record unfit to read, or None: each field must have the type
    `models.Run` gives it (times parseable, lists and objects of the right kind, integers within
    their view column's range) and free-form parts may nest at most MAX_NESTING levels."""
    return _record_check()(record, "record")


def is_nested_within(value: Any, levels: int) -> bool:
    """Whether JSON data nests at most `levels` lists and objects deep (found without recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > levels:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


@functools.cache
def _record_check() -> Check:
    return _fields_check(models.Run, top_level=True)


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _fields_check(cls: type, *, top_level: bool = False) -> Check:
    """A check of one JSON object against the fields of attrs class `cls`."""
    hints = typing.get_type_hints(cls, vars(models))
    table = []
    for field in attrs.fields(cls):
        column = COLUMNS.get(field.name, "") if top_level else ""
        check = _type_check(hints[field.name], _INT_RANGE.get(column, 2**63))
        rule = _RULES.get(field.name) if top_level else None
        table.append((field.name, _with_rule(check, rule), field.default is attrs.NOTHING))
    known = {name for name, _, _ in table}

    def check_fields(value: Any, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where} is {_shown(value)}, not an object"
        for name, check, required in table:
            if name in value:
                found = check(value[name], name if top_level else f"{where}.{name}")
                if found:
                    return found
            elif required:
                return f"{where} has no {name}"
        for name in value.keys() - known:
            found = _free_form(value[name], name if top_level else f"{where}.{name}")
            if found:
                return found
        return None

    return check_fields


def _with_rule(check: Check, rule: tuple[Callable[[str], bool], str] | None) -> Check:
    if rule is None:
        return check
    test, description = rule

    def check_rule(value: Any, where: str) -> str | None:
        found = check(value, where)
        if found or value is None or test(value):
            return found
        return f"{where} is {_shown(value)}, not {description}"

    return check_rule


def _type_check(hint: Any, int_bound: int) -> Check:
    """A check for a value of type `hint` (as `models` annotates it), as JSON holds it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        checks = [_type_check(a, int_bound) for a in options]

        def check_union(value: Any, where: str) -> str | None:
            if value is None and len(options) < len(args):
                return None
            found = [c(value, where) for c in checks]
            return None if None in found else found[0]

        return check_union
    if origin is typing.Literal:
        allowed = tuple(str(a) for a in args)
        return _kind(lambda v: isinstance(v, str) and v in allowed,
                     "one of " + ", ".join(allowed))
    if origin is tuple:
        item = _type_check(args[0], int_bound)
        return _list_check(item)
    if origin is dict:
        return _object_check(scalars=args[1] is not Any)
    if isinstance(hint, type) and attrs.has(hint):
        return _fields_check(hint)
    simple = {
        str: (lambda v: isinstance(v, str), "a string"),
        bool: (lambda v: isinstance(v, bool), "true or false"),
        int: (lambda v: isinstance(v, int) and not isinstance(v, bool)
              and -int_bound <= v < int_bound, f"an integer of {int_bound.bit_length()} bits"),
        float: (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
        dt.datetime: (lambda v: isinstance(v, str) and _timestamp(v) is not None, "a time"),
    }
    if hint in simple:
        return _kind(*simple[hint])
    return _free_form  # a type this check does not know: any JSON value


def _kind(test: Callable[[Any], bool], description: str) -> Check:
    def check_kind(value: Any, where: str) -> str | None:
        return None if test(value) else f"{where} is {_shown(value)}, not {description}"

    return check_kind


def _list_check(item: Check) -> Check:
    def check_list(value: Any, where: str) -> str | None:
        if not isinstance(value, list):
            return f"{where} is {_shown(value)}, not a list"
        for i, element in enumerate(value):
            found = item(element, f"{where}[{i}]")
            if found:
                return found
        return None

    return check_list


def _free_form(value: Any, where: str) -> str | None:
    """Any JSON value nested at most MAX_NESTING levels."""
    if isinstance(value, dict | list) and not is_nested_within(value, MAX_NESTING):
        return f"{where} is nested deeper than {MAX_NESTING} levels"
    return None


def _object_check(*, scalars: bool) -> Check:
    """An object: of scalars (params, variables), or of free-form values (results)."""

    def check_object(value: Any, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where} is {_shown(value)}, not an object"
        if not scalars:
            return _free_form(value, where)
        for key, item in value.items():
            if isinstance(item, dict | list):
                return f"{where}.{key} is {_shown(item)}, not a string"
        return None

    return check_object


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
    """The `from_json` structure that turns a JSON array of flattened rows into typed columns."""
    return json.dumps([COLUMNS])


def sql_paths(paths: list[Any]) -> str:
    """A DuckDB list literal of file paths, quoted."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
