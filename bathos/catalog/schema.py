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
from bathos.ids import is_run_id
from bathos.models import SCHEMA_VERSION
from bathos.timespec import parse_iso_utc

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
# dependencies and outputs are stored: listings, lineage and freshness read them, and would
# otherwise parse every `record` they touch.)
DERIVED_SQL: dict[str, str] = {
    "git": "record->'git'",
    "host": "record->'host'",
    "slurm": "record->'slurm'",
    "environment": "record->'environment'",
    "logs": "record->'logs'",
    "sidecar": "record->'sidecar'",
    "outcome": "record->'outcome'->>'label'",
    "error": "record->>'error'",
    "cwd": "record->>'cwd'",
}

DERIVED_TYPES = {"outcome": "VARCHAR"}  # those a listing shows (the others are JSON)


def column_sql(name: str) -> str:
    """A view column as a SELECT item over stored columns (a derived one computed from `record`)."""
    return f"{DERIVED_SQL[name]} AS {name}" if name in DERIVED_SQL else name


def column_type(name: str) -> str:
    """The DuckDB type of a view column."""
    return COLUMNS.get(name) or DERIVED_TYPES.get(name, "JSON")


# Free-form parts of a record (params, results, fields this bathos does not know) nest at most this
# deep: deeper JSON costs every reader and writer recursion, and is never a result anyone reads.
MAX_NESTING = 32
_INT_BITS = {"INTEGER": 32, "BIGINT": 64}
# Checks beyond a field's type, by field name.
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (is_run_id, "a run id"),
    "project": (lambda v: SLUG_RE.match(v) is not None, "a project slug"),
}


@attrs.frozen
class _Kind:
    """What a JSON value must be: an instance of `types`, then (unless None) pass `test`.
    `fields` (an object's), `item` (a list's) and `values` (an object's values) let `_explain`
    say where inside it is wrong."""

    types: tuple[type, ...]
    description: str
    test: Callable[[Any], bool] | None = None
    fields: tuple[tuple[str, _Kind, bool], ...] = ()  # (name, kind, required)
    item: _Kind | None = None
    values: _Kind | None = None

    def fits(self, value: Any) -> bool:
        return isinstance(value, self.types) and (
            value is None or self.test is None or self.test(value))


def problem(record: Record) -> str | None:
    """What makes a (current-schema) record unfit to read, or None: each field must have the type
    `models.Run` gives it (times parseable, lists and objects of the right kind, integers within
    their view column's range) and free-form parts may nest at most MAX_NESTING levels."""
    kind = _record_kind()
    return None if kind.fits(record) else _explain(record, kind, "record")


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
def _record_kind() -> _Kind:
    return _object_kind(models.Run, top_level=True)


def _object_kind(cls: type, *, top_level: bool = False) -> _Kind:
    """The kind of a JSON object holding the fields of attrs class `cls`."""
    hints = typing.get_type_hints(cls, vars(models))
    fields = []
    for field in attrs.fields(cls):
        bits = _INT_BITS.get(COLUMNS.get(field.name, "")) if top_level else None
        kind = _kind_of(hints[field.name], bits or 64)
        rule = _RULES.get(field.name) if top_level else None
        if rule:
            kind = attrs.evolve(kind, description=rule[1], test=_both(kind.test, rule[0]))
        fields.append((field.name, kind, field.default is attrs.NOTHING))
    table = tuple(fields)
    known = frozenset(name for name, _, _ in table)
    flat = tuple((name, kind.types, kind.test, required) for name, kind, required in table)

    def fits(value: dict[str, Any]) -> bool:
        for name, kinds, test, required in flat:  # Kind.fits, inlined: this runs on every read
            if name in value:
                item = value[name]
                if not isinstance(item, kinds) or (
                        item is not None and test is not None and not test(item)):
                    return False
            elif required:
                return False
        return all(_is_free_form(value[k]) for k in value.keys() - known)

    return _Kind((dict,), "an object", fits, fields=table)


def _both(first: Callable[[Any], bool] | None,
          second: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return second if first is None else (lambda v: first(v) and second(v))


_NONE = type(None)


def _kind_of(hint: Any, int_bits: int) -> _Kind:
    """The kind of a value of type `hint` (as `models` annotates it), as JSON holds it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_kind_of(a, int_bits) for a in args if a is not _NONE]
        if len(options) == 1:
            kind = options[0]
        else:
            kind = _Kind(tuple(t for o in options for t in o.types),
                         " or ".join(o.description for o in options),
                         lambda v: any(o.fits(v) for o in options))
        return attrs.evolve(kind, types=(*kind.types, _NONE)) if _NONE in args else kind
    if origin is typing.Literal:
        allowed = frozenset(str(a) for a in args)
        return _Kind((str,), "one of " + ", ".join(map(str, args)), allowed.__contains__)
    if origin is tuple:
        item = _kind_of(args[0], int_bits)
        return _Kind((list,), "a list", lambda v: all(item.fits(x) for x in v), item=item)
    if origin is dict and args[1] is not Any:  # params, variables: plain values
        plain = (str, int, float, bool, _NONE)
        values = _Kind(plain, "a string")
        if any(typing.get_origin(a) is list for a in typing.get_args(args[1])):  # params
            values = _Kind((*plain, list), "a string or a list of strings",
                           lambda v: not isinstance(v, list)
                           or all(isinstance(x, plain) for x in v), item=values)
        return _Kind((dict,), "an object", lambda v: all(values.fits(x) for x in v.values()),
                     values=values)
    if origin is dict:
        return _Kind((dict,), "an object", _is_free_form)
    if isinstance(hint, type) and attrs.has(hint):
        return _object_kind(hint)
    bound = 2 ** (int_bits - 1)
    simple = {
        str: _Kind((str,), "a string"),
        bool: _Kind((bool,), "true or false"),
        int: _Kind((int,), f"an integer of {int_bits} bits",
                   lambda v: v.__class__ is not bool and -bound <= v < bound),
        float: _Kind((int, float), "a number", lambda v: v.__class__ is not bool),
        dt.datetime: _Kind((str,), "a time", _is_time),
    }
    # a type this check does not know: any JSON value
    return simple.get(hint) or _Kind((object,), "JSON", _is_free_form)


def _is_time(value: str) -> bool:
    """Whether `_timestamp` reads `value` as a time."""
    try:
        parse_iso_utc(value)
    except ValueError:
        return False
    return True


def _is_free_form(value: Any) -> bool:
    return not isinstance(value, dict | list) or is_nested_within(value, MAX_NESTING)


def _explain(value: Any, kind: _Kind, where: str) -> str:
    """What is wrong with `value`, which does not fit `kind`, and where."""
    if isinstance(value, kind.types) and isinstance(value, dict) and kind.fields:
        for name, field, required in kind.fields:
            inner = name if where == "record" else f"{where}.{name}"
            if name not in value:
                if required:
                    return f"{where} has no {name}"
            elif not field.fits(value[name]):
                return _explain(value[name], field, inner)
        for name in value.keys() - {name for name, _, _ in kind.fields}:
            if not _is_free_form(value[name]):
                return f"{name} is nested deeper than {MAX_NESTING} levels"
    if isinstance(value, list) and kind.item:
        for i, element in enumerate(value):
            if not kind.item.fits(element):
                return _explain(element, kind.item, f"{where}[{i}]")
    if isinstance(value, dict) and kind.values:
        for key, element in value.items():
            if not kind.values.fits(element):
                return _explain(element, kind.values, f"{where}.{key}")
    if isinstance(value, kind.types) and not _is_free_form(value):
        return f"{where} is nested deeper than {MAX_NESTING} levels"
    return f"{where} is {_shown(value)}, not {kind.description}"


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _timestamp(value: Any) -> str | None:
    """ISO text as DuckDB reads it for a naive UTC TIMESTAMP (an offset is converted to UTC)."""
    if not value:
        return None
    try:
        parsed = parse_iso_utc(str(value))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).isoformat()


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


def sql_string(value: object) -> str:
    """`value` as a quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_paths(paths: list[Any]) -> str:
    """A DuckDB list literal of file paths, quoted."""
    return "[" + ", ".join(sql_string(p) for p in paths) + "]"
