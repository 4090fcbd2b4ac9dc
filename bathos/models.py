"""The run record and its parts (attrs), and the one cattrs converter that reads them from JSON.

A record is written once when a run starts (`status="running"`) and replaced when it ends. Every
record carries `schema_version`; `bathos.catalog.schema` upgrades older ones on read.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any, Literal

import attr
import attrs

from bathos.timespec import as_utc, iso_utc, parse_iso_utc

if TYPE_CHECKING:
    import cattrs

SCHEMA_VERSION = 1

# `timeout` and `cancelled`: a SLURM job ended by its time limit, or by scancel (or preemption).
Status = Literal["running", "completed", "failed", "interrupted", "timeout", "cancelled", "lost"]
STATUSES: tuple[str, ...] = ("running", "completed", "failed", "interrupted", "timeout",
                             "cancelled", "lost")
FINISHED_STATUSES: tuple[str, ...] = STATUSES[1:]
AgentMode = Literal["collaborative", "autonomous"]


@attrs.frozen
class Host:
    """Where the run executed."""

    hostname: str
    user: str
    pid: int
    cpu_count: int | None = None


@attrs.frozen
class Slurm:
    """The SLURM job a run belonged to: read from the job's environment when it starts, and
    from the scheduler (`scontrol`, `sacct`) when a signal ends it or `bth reap` settles it.

    `cpus`, `mem`, `gpus` and `time_limit` are what the job asked for; `submit_time` and
    `queue_wait_s` say how long it waited to start; `state` and `reason` are the scheduler's
    word on how it ended (`TIMEOUT`, `CANCELLED`, `NODE_FAIL` …); `job_script` is the blob of
    the job script `bth submit` wrote.
    """

    job_id: str
    array_job_id: str | None = None
    array_task_id: str | None = None
    partition: str | None = None
    node_list: str | None = None
    cpus: str | None = None
    mem: str | None = None
    job_name: str | None = None
    cluster: str | None = None
    gpus: str | None = None
    time_limit: str | None = None
    submit_time: dt.datetime | None = None
    start_time: dt.datetime | None = None
    queue_wait_s: float | None = None
    state: str | None = None
    reason: str | None = None
    job_script: str | None = None


@attrs.frozen
class Git:
    """The code version: the commit, and a pinned snapshot commit when the tree was dirty.

    `excluded` names the untracked files that looked secret (`.env`, `*.pem` …) and were kept out
    of the snapshot: their paths are recorded, their content never is.
    """

    repo_root: str
    commit: str | None
    branch: str | None = None
    detached: bool = False
    dirty: bool = False
    snapshot: str | None = None
    untracked: tuple[str, ...] = ()
    pinned_ref: str | None = None
    excluded: tuple[str, ...] = ()
    # How many untracked files there were; `untracked` lists the first 1,000 (None: all listed,
    # in records written before the cap).
    untracked_count: int | None = None


@attrs.frozen
class Dependency:
    """A file the run depended on, with its content hash.

    `role` is one of script, module, sidecar, input; `path` is relative to the repository root when
    the file lies inside it, absolute otherwise. `git_blob` is the file's git blob id, which lets a
    freshness check compare against the index without reading the file.
    """

    path: str
    role: str
    sha256: str | None
    size: int | None = None
    git_blob: str | None = None


@attrs.frozen
class Output:
    """A file the run produced; `sha256` is None when the file was above the hashing cap."""

    path: str
    size: int | None
    sha256: str | None
    mtime: float | None = None


@attrs.frozen
class Capture:
    """How the run's files were found, and what it named but did not write.

    The tree scan walked `scanned` entries in `scan_s` seconds; `scan_capped` says it stopped at
    its cap, so files the run wrote beyond it may be missing from `outputs`. `not_written` names
    the outputs named in the arguments (or as the run's outputs) that the run did not write:
    they are not among `outputs`. `modified_tracked` names the files tracked by git that the run
    changed (relative to the repository root): the next run's tree is dirty because of them.
    """

    scanned: int = 0
    scan_s: float = 0.0
    scan_capped: bool = False
    not_written: tuple[str, ...] = ()
    modified_tracked: tuple[str, ...] = ()


@attrs.frozen
class Environment:
    """The interpreter and the selected environment variables (secret-looking values redacted).

    `packages_list` is the blob (`sha256:…`) listing the distributions the interpreter had
    installed, one blob per distinct environment, shared by every run in it; `packages_count`
    counts them. `Catalog.packages(run)` reads the list. Runs recorded before bathos kept lists,
    and commands that are not Python, have neither.
    """

    python_executable: str | None = None
    python_version: str | None = None
    implementation: str | None = None
    platform: str | None = None
    packages_fingerprint: str | None = None
    packages_source: str | None = None
    variables: dict[str, str] = attrs.field(factory=dict)
    packages_list: str | None = None
    packages_count: int | None = None


@attrs.frozen
class Sidecar:
    """The `<stem>.bth.toml` beside a script; `mode` is recorded or bypassed. `blob` is the
    catalog blob holding its content as the run was judged by it (`Catalog.sidecar`)."""

    path: str | None
    sha256: str | None
    mode: str = "recorded"
    blob: str | None = None


@attrs.frozen
class RunOutcome:
    """What a run's results meant, by its sidecar: the `label` of the first outcome whose
    `condition` held (or the residual's), its `decision`, and the result `values` the conditions
    read. `error` labels a run that failed, `unknown` one whose results could not be judged;
    `reason` says why (and, for the residual, that no condition held)."""

    label: str
    condition: str | None = None
    decision: str | None = None
    values: dict[str, Any] = attrs.field(factory=dict)
    reason: str | None = None


@attrs.frozen
class Logs:
    """Where the run's stdout and stderr are kept in the catalog (content-addressed blobs)."""

    stdout: str | None = None
    stderr: str | None = None
    stdout_bytes: int = 0  # the whole stream's length, secrets replaced (the blob may be cut)
    stderr_bytes: int = 0
    truncated: bool = False


@attrs.frozen
class Imported:
    """Where a run recorded by another tool came from: the `tool` that wrote it, the `source`
    file (or database) it was read from, its `schema_version` there, and when it was imported."""

    tool: str
    source: str
    schema_version: int | None
    imported_at: dt.datetime


@attrs.frozen
class TagEdit:
    """A change of a finished run's tags (`Catalog.tag`): the tags it added and removed, who
    made it (`user@host`) and when."""

    by: str
    time: dt.datetime
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@attrs.frozen
class Run:
    """One execution of a script or command, as the catalog stores it."""

    id: str
    project: str
    started_at: dt.datetime
    updated_at: dt.datetime
    status: Status = "running"
    schema_version: int = SCHEMA_VERSION
    name: str | None = None
    script: str | None = None
    argv: tuple[str, ...] = ()
    params: dict[str, str | list[str]] = attrs.field(factory=dict)  # a repeated name: a list
    cwd: str | None = None
    ended_at: dt.datetime | None = None
    duration_s: float | None = None
    heartbeat_at: dt.datetime | None = None
    exit_code: int | None = None
    signal: str | None = None
    error: str | None = None
    host: Host | None = None
    slurm: Slurm | None = None
    git: Git | None = None
    dependencies: tuple[Dependency, ...] = ()
    environment: Environment | None = None
    outputs: tuple[Output, ...] = ()
    results: dict[str, Any] = attrs.field(factory=dict)
    logs: Logs | None = None
    tags: tuple[str, ...] = ()
    parent_run_id: str | None = None
    campaign_id: str | None = None
    agent_mode: AgentMode | None = None
    sidecar: Sidecar | None = None
    capture: Capture | None = None  # None in running records and those of older bathos
    outcome: RunOutcome | None = None  # judged when the run ends, if it had a valid sidecar
    imported: Imported | None = None  # a run another tool recorded, brought into this catalog
    # Fields of an imported record that have no place here, by their original names, as read.
    extra: dict[str, Any] = attrs.field(factory=dict)
    # The changes of its tags made after it ended, oldest first (`tags` is their result).
    tag_edits: tuple[TagEdit, ...] = ()

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def _from_iso(value: Any, _: type) -> dt.datetime:
    return as_utc(value) if isinstance(value, dt.datetime) else parse_iso_utc(str(value))


@functools.cache
def converter() -> cattrs.Converter:
    """The one converter from JSON data to models (built on first use: cattrs is slow to load)."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(dt.datetime, _from_iso)
    conv.register_structure_hook(str | list[str], _param_from_json)
    return conv


def _param_from_json(value: Any, _: Any) -> str | list[str]:
    return [str(item) for item in value] if isinstance(value, list) else str(value)


def _serialize(_instance: Any, _field: Any, value: Any) -> Any:
    return iso_utc(value) if isinstance(value, dt.datetime) else value


def unstructure(obj: Any) -> Any:
    """A model as plain JSON data (times as ISO-8601 UTC with `Z`).

    attrs' own `asdict` does this without the code generation cattrs needs on first use, which
    would add to every `bth run` (benchmarks/bench_run.py); `structure_run` is its inverse.
    """
    return attr.asdict(obj, value_serializer=_serialize, retain_collection_types=False)


def structure_run(data: dict[str, Any]) -> Run:
    """A `Run` from plain data of the current schema; errors name each bad field."""
    import cattrs

    from bathos.errors import CatalogError

    try:
        return converter().structure(data, Run)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(
            exc, cattrs.BaseValidationError
        ) else str(exc)
        raise CatalogError(f"run record {data.get('id', '?')} is malformed: {detail}") from exc


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
