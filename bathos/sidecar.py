"""Sidecars: `<script_stem>.bth.toml` beside a script says, before it runs, what the run is for
and what each possible result would mean (docs/sidecars.md).

    spec = load_sidecar(sidecar_path(Path("scripts/benchmarks/time_solver.py")))
    outcome = evaluate_outcome(spec, {"speedup": 1.4, "max_error": 2e-7}, exit_code=0)
    outcome.label                   # 'faster', the first outcome whose condition held

A sidecar has exactly one kind table, `[experiment]`, `[benchmark]`, `[validation]` or `[debug]`
(`KINDS` lists their fields; `*` marks the required ones), and `[outcomes.<label>]` tables:
`condition` (a DuckDB SQL expression over the run's results and final metrics), `decision`,
`reasoning`, `is_residual`. At least one outcome is residual: the "none of the above" case, whose
condition may be omitted. Optional: `[result_schema]` (name = float|int|bool|str), `inputs` and
`outputs` (lists of paths), `[status]` (`stale`, `superseded_by`) and `agent_mode`.

Everything wrong in a sidecar raises `SidecarInvalid` naming the file, the line and the key.
DuckDB itself checks the conditions, in an in-memory database that cannot reach any file; it is
imported only when a sidecar is validated or judged, so `import bathos.sidecar` stays cheap.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.config import AGENT_MODES
from bathos.errors import SidecarInvalid
from bathos.models import RunOutcome

if TYPE_CHECKING:
    import duckdb

MAX_BYTES = 1024 * 1024
STAGES = ("exploration", "calibration", "validation", "ablation", "production")
# result_schema's types, as DuckDB columns.
RESULT_TYPES = {"float": "DOUBLE", "int": "BIGINT", "bool": "BOOLEAN", "str": "VARCHAR"}
# Labels bathos gives itself: a failed run, and results that could not be judged.
RESERVED_LABELS = ("error", "unknown")
LABEL_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESULT_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@attrs.frozen
class _Field:
    kind: str  # text, number, stage
    required: bool
    about: str


_TEXT, _NUMBER, _STAGE = "text", "number", "stage"

# The kind tables and their fields.
KINDS: dict[str, dict[str, _Field]] = {
    "experiment": {
        "hypothesis": _Field(_TEXT, True, "what the run is expected to show"),
        "stage": _Field(_STAGE, True, "one of " + ", ".join(STAGES)),
    },
    "benchmark": {
        "metric": _Field(_TEXT, True, "the result that is measured"),
        "baseline_ref": _Field(_TEXT, False, "what it is compared with (a run, a commit)"),
        "regression_threshold": _Field(_NUMBER, False, "the change that counts as a regression"),
        "target": _Field(_NUMBER, False, "the value aimed at"),
    },
    "validation": {
        "property": _Field(_TEXT, True, "what must hold"),
        "reference": _Field(_TEXT, True, "what the results are checked against"),
        "tolerance": _Field(_NUMBER, False, "how close counts as equal"),
    },
    "debug": {
        "symptom": _Field(_TEXT, True, "what goes wrong"),
        "suspected_cause": _Field(_TEXT, False, "what the run is to confirm or rule out"),
    },
}
_OUTCOME_KEYS = ("condition", "decision", "reasoning", "is_residual")
_STATUS_KEYS = ("stale", "superseded_by")
_TOP_KEYS = (*KINDS, "outcomes", "result_schema", "inputs", "outputs", "status", "agent_mode")


@attrs.frozen
class OutcomeSpec:
    """One `[outcomes.<label>]` table: when `condition` holds, the run means `decision`.
    The residual outcome (`is_residual`) is what the run means when no condition holds."""

    label: str
    condition: str | None
    decision: str
    reasoning: str | None = None
    is_residual: bool = False


@attrs.frozen
class SidecarSpec:
    """A valid sidecar: its `kind` and that kind's table (`fields`), its outcomes in file order,
    the declared result types (`result_schema`: name -> float|int|bool|str), inputs and outputs,
    its status, and the agent mode it asks for."""

    kind: str
    fields: dict[str, Any]
    outcomes: tuple[OutcomeSpec, ...]
    result_schema: dict[str, str] = attrs.field(factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    stale: bool = False
    superseded_by: str | None = None
    agent_mode: str | None = None
    path: Path | None = None

    @property
    def residual(self) -> OutcomeSpec:
        """The first residual outcome: the run's outcome when no condition holds."""
        return next(o for o in self.outcomes if o.is_residual)


def load_sidecar(path: Path) -> SidecarSpec:
    """Read and validate the sidecar at `path`; raises `SidecarInvalid` (file:line: key)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SidecarInvalid(path, 1, None, f"cannot be read: {exc.strerror or exc}") from exc
    return parse_sidecar(data, path)


def parse_sidecar(data: bytes | str, path: Path | str) -> SidecarSpec:
    """Validate sidecar content (`path` names it in errors): the checks of `load_sidecar`."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise SidecarInvalid(path, 1, None, f"is larger than {MAX_BYTES // 1024} KB")
    text = _decoded(raw, path)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, path) from None
    return _Checker(text, Path(path), table).spec()


def _decoded(raw: bytes, path: Path | str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SidecarInvalid(path, line, None, "is not UTF-8 text") from None


_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, path: Path | str) -> SidecarInvalid:
    """tomllib's message ends with `(at line N, column M)` or `(at end of document)`."""
    message = str(exc)
    found = _AT.search(message)
    if found is None:
        return SidecarInvalid(path, 1, None, f"is not valid TOML: {message}")
    line = int(found[1]) if found[1] else max(1, len(text.splitlines()))
    where = f" (column {found[2]})" if found[2] else " (at the end of the file)"
    return SidecarInvalid(path, line, None,
                          f"is not valid TOML: {message[:found.start()]}{where}")


def line_of(text: str, key: tuple[str, ...]) -> int:
    """The line (1-based) where TOML `text` defines the table or key at `key`, else that of its
    nearest enclosing one, else 1.

    tomllib keeps no positions, so this asks tomllib itself: the key is defined on the first line
    mentioning its name such that the text up to there (or up to the end of a value that spans
    lines) holds the key. Quadratic in the worst case, which only errors pay for (sidecars are
    small, and capped at MAX_BYTES).
    """
    lines = text.splitlines(keepends=True)
    while key:
        for number in _candidate_lines(lines, key[-1]):
            for end in range(number, len(lines)):
                try:
                    prefix = tomllib.loads("".join(lines[:end + 1]))
                except tomllib.TOMLDecodeError:
                    continue
                if _has(prefix, key):
                    return number + 1
                break
        key = key[:-1]
    return 1


def _candidate_lines(lines: list[str], name: str) -> list[int]:
    escaped = json.dumps(name)[1:-1]
    return [i for i, line in enumerate(lines) if name in line or escaped in line]


def _has(table: Any, key: tuple[str, ...]) -> bool:
    for part in key:
        if not isinstance(table, dict) or part not in table:
            return False
        table = table[part]
    return True


def _type_name(value: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


class _Checker:
    """The checks of one parsed sidecar; `fail` raises at the line of the key it names."""

    def __init__(self, text: str, path: Path, table: dict[str, Any]) -> None:
        self.text = text
        self.path = path
        self.table = table

    def fail(self, key: tuple[str, ...], what: str, *, at: tuple[str, ...] | None = None) -> None:
        raise SidecarInvalid(self.path, line_of(self.text, key if at is None else at),
                             ".".join(key), what)

    def spec(self) -> SidecarSpec:
        for name in self.table:
            if name not in _TOP_KEYS:
                self.fail((name,), "unknown key (a sidecar has one of [" + "], [".join(KINDS)
                          + "], [outcomes.<label>] tables, and optionally [result_schema], "
                          "inputs, outputs, [status], agent_mode)")
        kind = self.kind()
        schema = self.result_schema()
        outcomes = self.outcomes()
        status = self.section(("status",), _STATUS_KEYS)
        stale = self.typed(status, ("status", "stale"), bool, "true or false", False)
        superseded = self.typed(status, ("status", "superseded_by"), str, "a string", None)
        mode = self.typed(self.table, ("agent_mode",), str, "a string", None)
        if mode is not None and mode not in AGENT_MODES:
            self.fail(("agent_mode",), f"unknown agent mode {mode!r} (one of "
                      + ", ".join(AGENT_MODES) + ")")
        spec = SidecarSpec(kind=kind, fields=dict(self.table[kind]), outcomes=outcomes,
                           result_schema=schema, inputs=self.paths("inputs"),
                           outputs=self.paths("outputs"), stale=stale,
                           superseded_by=superseded, agent_mode=mode, path=self.path)
        for outcome in outcomes:
            if outcome.condition is not None:
                problem = condition_problem(outcome.condition, schema)
                if problem:
                    self.fail(("outcomes", outcome.label, "condition"), problem)
        return spec

    def kind(self) -> str:
        kinds = [name for name in self.table if name in KINDS]
        if not kinds:
            raise SidecarInvalid(self.path, 1, None, "has no kind table: add one of ["
                                 + "], [".join(KINDS) + "]")
        if len(kinds) > 1:
            self.fail((kinds[1],), f"a sidecar has one kind table, and [{kinds[0]}] is at line "
                      f"{line_of(self.text, (kinds[0],))}")
        kind = kinds[0]
        fields = self.section((kind,), tuple(KINDS[kind]))
        for name, field in KINDS[kind].items():
            key = (kind, name)
            if name not in fields:
                if field.required:
                    self.fail(key, f"missing ({field.about})", at=(kind,))
                continue
            value = fields[name]
            if field.kind == _NUMBER:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.fail(key, f"must be a number, not {_type_name(value)}")
            elif not isinstance(value, str):
                self.fail(key, f"must be a string, not {_type_name(value)}")
            elif field.kind == _STAGE and value not in STAGES:
                self.fail(key, f"unknown stage {value!r} (one of {', '.join(STAGES)})")
            elif not value.strip():
                self.fail(key, f"must not be empty ({field.about})")
        return kind

    def section(self, key: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, Any]:
        """The table at `key` ({} when absent), holding no keys but `allowed`."""
        value = self.table.get(key[0], {}) if len(key) == 1 else self.table["outcomes"][key[1]]
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {_type_name(value)}")
        for name in value:
            if name not in allowed:
                self.fail((*key, name), "unknown key (" + f"[{'.'.join(key)}] has: "
                          + ", ".join(allowed) + ")")
        return dict(value)

    def typed(self, table: Mapping[str, Any], key: tuple[str, ...], kind: type,
              described: str, default: Any) -> Any:
        if key[-1] not in table:
            return default
        value = table[key[-1]]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(key, f"must be {described}, not {_type_name(value)}")
        return value

    def paths(self, name: str) -> tuple[str, ...]:
        value = self.table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((name,), "must be a list of paths (strings)")
        return tuple(value)

    def result_schema(self) -> dict[str, str]:
        table = self.table.get("result_schema", {})
        if not isinstance(table, dict):
            self.fail(("result_schema",), f"must be a table, not {_type_name(table)}")
        for name, kind in table.items():
            key = ("result_schema", name)
            if not RESULT_NAME_RE.fullmatch(name):
                self.fail(key, "a result name is letters, digits and _, not starting with a digit")
            if kind not in RESULT_TYPES:
                self.fail(key, f"unknown type {kind!r} (one of {', '.join(RESULT_TYPES)})"
                          if isinstance(kind, str) else
                          f"must be a type name (one of {', '.join(RESULT_TYPES)})")
        return dict(table)

    def outcomes(self) -> tuple[OutcomeSpec, ...]:
        table = self.table.get("outcomes")
        if table is None:
            raise SidecarInvalid(self.path, 1, "outcomes", "missing: say what each result "
                                 "would mean in [outcomes.<label>] tables, one of them with "
                                 "is_residual = true")
        if not isinstance(table, dict) or not table:
            self.fail(("outcomes",), "must hold [outcomes.<label>] tables")
        found = tuple(self.outcome(label) for label in table)
        if not any(o.is_residual for o in found):
            self.fail(("outcomes",), "no residual outcome: mark the none-of-the-above case with "
                      "is_residual = true")
        return found

    def outcome(self, label: str) -> OutcomeSpec:
        key = ("outcomes", label)
        if not LABEL_RE.fullmatch(label):
            self.fail(key, "a label is letters, digits, _ and - (at most 64)")
        if label in RESERVED_LABELS:
            self.fail(key, f"{label!r} is the label bathos gives a run that "
                      + ("failed" if label == "error" else "could not be judged")
                      + "; choose another")
        fields = self.section(key, _OUTCOME_KEYS)
        residual = self.typed(fields, (*key, "is_residual"), bool, "true or false", False)
        condition = self.typed(fields, (*key, "condition"), str, "a string", None)
        decision = self.typed(fields, (*key, "decision"), str, "a string", None)
        reasoning = self.typed(fields, (*key, "reasoning"), str, "a string", None)
        if condition is None and not residual:
            self.fail((*key, "condition"), "missing (only the residual outcome may omit it)",
                      at=key)
        if condition is not None and not condition.strip():
            self.fail((*key, "condition"), "must not be empty")
        if decision is None:
            self.fail((*key, "decision"), "missing (what to do when this is the outcome)",
                      at=key)
        return OutcomeSpec(label, condition, decision, reasoning, residual)


# --- conditions, checked and evaluated by DuckDB ---------------------------------------------

_TABLE = "__bth_results"


def _connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reaches no file, loads no extension, and errs on a division by
    zero (instead of returning infinity) so that a condition dividing by zero is `unknown`."""
    import duckdb

    return duckdb.connect(":memory:", config={
        "enable_external_access": False, "autoload_known_extensions": False,
        "autoinstall_known_extensions": False, "ieee_floating_point_ops": False,
        "threads": 1, "lock_configuration": True})


def _query(condition: str) -> str:
    return f"SELECT ({condition}) FROM {_TABLE}"


def _shape_problem(con: duckdb.DuckDBPyConnection, condition: str) -> str | None:
    """Why `condition` is not one SQL expression (or None), read from DuckDB's parse tree: one
    SELECT of one expression from the results table, and no subquery."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [_query(condition)]
                                  ).fetchone()[0])  # type: ignore[index]
    if tree.get("error"):
        at = int(tree.get("position") or 0) - len("SELECT (")
        if at >= len(condition):
            return "does not parse as SQL: it ends too early"
        where = f" (at character {at + 1}: {condition[at:at + 12]!r})" if at >= 0 else ""
        return "does not parse as SQL: " + _first_sentence(tree.get("error_message", "")) + where
    statements = tree.get("statements", [])
    node = statements[0]["node"] if len(statements) == 1 else {}
    source = node.get("from_table") or {}
    if (node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1
            or source.get("table_name") != _TABLE
            or source.get("query_location") != len(_query(condition)) - len(_TABLE)
            or any(node.get(k) for k in ("where_clause", "having", "qualify", "modifiers",
                                         "group_expressions"))
            or node.get("cte_map", {}).get("map")):
        return "is not a single SQL expression"
    if '"class": "SUBQUERY"' in json.dumps(node["select_list"]):
        return "must not contain a subquery (a condition reads only the run's results)"
    return None


def _first_sentence(message: str) -> str:
    """DuckDB's message without its `X Error: ` prefix, the query it quotes and its advice."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    return first.split(". ")[0].rstrip(".!")


def condition_problem(condition: str, result_schema: Mapping[str, str]) -> str | None:
    """Why `condition` cannot judge results (None when it can): it must be one SQL expression
    and, when `result_schema` declares the results, name only them and be true or false."""
    con = _connection()
    try:
        problem = _shape_problem(con, condition)
        if problem or not result_schema:
            return problem
        columns = ", ".join(f"NULL::{RESULT_TYPES[t]} AS {_quoted(n)}"
                            for n, t in result_schema.items())
        con.execute(f"CREATE TEMP TABLE {_TABLE} AS SELECT {columns}")
        try:
            kinds = con.sql(_query(condition)).types
        except Exception as exc:  # DuckDB's binder: unknown names, wrong types
            missing = _missing_column(exc)
            if missing is not None:
                return (f"names {missing!r}, which is not in [result_schema] ("
                        + ", ".join(result_schema) + ")")
            return "is not valid: " + _first_sentence(str(exc))
        if str(kinds[0]) not in ("BOOLEAN", "NULL"):
            return f"must be true or false, not {kinds[0]}"
        return None
    finally:
        con.close()


_MISSING = re.compile(r'Referenced column "(.+?)" not found')


def _missing_column(exc: Exception) -> str | None:
    found = _MISSING.search(str(exc))
    return found[1] if found else None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_type(value: Any) -> str:
    """The DuckDB type of a result (not None) without a declared one."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT" if -2**63 <= value < 2**63 else "DOUBLE"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, dict | list):
        return "JSON"
    return "VARCHAR"


def _column_names(con: duckdb.DuckDBPyConnection, condition: str) -> list[str]:
    """The names a condition reads, in order (from DuckDB's parse tree)."""
    tree = con.execute("SELECT json_serialize_sql(?)", [_query(condition)]).fetchone()
    names: list[str] = []
    stack: list[Any] = [json.loads(tree[0])["statements"][0]["node"]["select_list"]
                        ] if tree else []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class") == "COLUMN_REF" and item.get("column_names"):
                names.append(item["column_names"][-1])
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return list(dict.fromkeys(names))


def evaluate_outcome(spec: SidecarSpec, results: Mapping[str, Any],
                     exit_code: int | None) -> RunOutcome:
    """The run's outcome by `spec`: `error` unless it exited with 0 (None: killed by a signal);
    else the first outcome, in file order, whose condition holds over one typed row of
    `results` (types from `result_schema`, else from the values), else the residual. A condition
    that cannot be judged — a result it needs is missing or null, it fails (a division by zero, a
    value of the wrong type) — makes the outcome `unknown` with the reason; this never raises."""
    if exit_code != 0:
        return RunOutcome("error", reason="killed by a signal" if exit_code is None
                          else f"exited with code {exit_code}")
    con = _connection()
    try:
        problem = _results_table(con, spec, results)
        if problem:
            return RunOutcome("unknown", reason=problem)
        seen: dict[str, Any] = {}
        for outcome in spec.outcomes:
            if outcome.condition is None:
                continue
            held, values, problem = _judge(con, outcome, results, spec.result_schema)
            seen.update(values)
            if problem:
                return RunOutcome("unknown", condition=outcome.condition, values=values,
                                  reason=f"outcome {outcome.label}: {problem}")
            if held:
                return RunOutcome(outcome.label, outcome.condition, outcome.decision, values)
        residual = spec.residual
        return RunOutcome(residual.label, residual.condition, residual.decision, seen,
                          reason="no condition held")
    finally:
        con.close()


def _results_table(con: duckdb.DuckDBPyConnection, spec: SidecarSpec,
                   results: Mapping[str, Any]) -> str | None:
    """Create the one-row table of `results`, or say why a result cannot be its declared type."""
    names: dict[str, str] = {}  # DuckDB's names ignore case: the first spelling wins
    for name in results:
        names.setdefault(str(name).lower(), str(name))
    columns, values = [], []
    for name in names.values():
        value = results[name]
        declared = spec.result_schema.get(name)
        kind = RESULT_TYPES[declared] if declared else _column_type(value)
        if value is None and not declared:  # DuckDB's NULL type compares with anything
            columns.append(f"NULL AS {_quoted(name)}")
            continue
        columns.append(f"CAST(? AS {kind}) AS {_quoted(name)}")
        values.append(json.dumps(value) if kind == "JSON" else value)
    for name, declared in spec.result_schema.items():
        if name.lower() not in names:
            columns.append(f"NULL::{RESULT_TYPES[declared]} AS {_quoted(name)}")
    select = ", ".join(columns) if columns else "NULL AS __bth_empty"
    try:
        con.execute(f"CREATE TEMP TABLE {_TABLE} AS SELECT {select}", values)
    except Exception as exc:  # a declared type the value does not have
        return "a result does not have its declared type: " + _first_sentence(str(exc))
    return None


def _judge(con: duckdb.DuckDBPyConnection, outcome: OutcomeSpec, results: Mapping[str, Any],
           schema: Mapping[str, str]) -> tuple[bool, dict[str, Any], str | None]:
    """Whether `outcome`'s condition holds, the results it read, and why it cannot say."""
    assert outcome.condition is not None
    problem = _shape_problem(con, outcome.condition)
    if problem:
        return False, {}, f"the condition {problem}"
    names = _column_names(con, outcome.condition)
    values = {n: results[n] for n in names if n in results}
    absent = [n for n in names if n not in results and (n in schema or not schema)]
    try:
        row = con.execute(_query(outcome.condition)).fetchone()
    except Exception as exc:  # DuckDB's: an unknown name, a division by zero, a bad cast
        missing = _missing_column(exc)
        if missing is not None:
            return False, values, f"the results have no {missing}"
        return False, values, "the condition failed: " + _first_sentence(str(exc))
    held = row[0] if row else None
    if held is None:
        if absent:
            return False, values, f"the results have no {absent[0]}"
        nulls = [n for n in names if n in results and results[n] is None]
        return False, values, "the condition is neither true nor false (" + (
            f"{nulls[0]} is null)" if nulls else "NULL)")
    if not isinstance(held, bool):
        return False, values, f"the condition is {held!r}, not true or false"
    return held, values, None
