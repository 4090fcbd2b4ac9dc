"""Executing a tracked command: provenance before, a heartbeat during, outputs and results after.

    run = start_run(RunSpec(target="scripts/experiments/train.py", args=("--n-steps", "10")))
    outcome = execute(run)          # spawns, forwards signals, tees logs, records the end

The same `start_run`/`ActiveRun.finish` pair records runs of `@bth.experiment` functions, so a
script run directly and one run under `bth run` carry the same provenance.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs

from bathos import config, enforcement, ids
from bathos.catalog import blobs, store
from bathos.errors import ConfigError, ProvenanceError
from bathos.fsutil import append_whole, relative_posix
from bathos.livelog import LOG_CAP_BYTES, STREAMS, TRUNCATED, LiveLog
from bathos.models import (
    Capture,
    Dependency,
    Logs,
    Output,
    Run,
    RunOutcome,
    Sidecar,
    unstructure,
    utcnow,
)
from bathos.provenance import scan

if TYPE_CHECKING:
    from bathos.catalog.metrics import Points
    from bathos.hashing import FileDigest
    from bathos.provenance.observation import Observation
    from bathos.provenance.secrets import Redactor
    from bathos.provenance.slurm import JobInfo
    from bathos.sidecar import SidecarSpec

log = logging.getLogger("bathos.runner")

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
DEFAULT_HASH_CAP_BYTES = 1024 * 1024 * 1024
# An option whose name says it names an output (normalised: `--out-dir` is `out_dir`).
OUTPUT_OPTION = re.compile(r"o|(out|output|save|dest|destination)s?(_?(dir|file|path|to|as))?"
                           r"|(out|output|save)_\w+|\w+_(out|output|outputs)", re.IGNORECASE)
RESULTS_EVENT = "_bth"
METRICS_FILE = "metrics.jsonl"  # in the run's scratch: $BTH_METRICS_PATH
# A stdout line that starts so carries metric points: `BTH_METRIC {"loss": 0.2, "step": 4}`.
METRIC_MARKER = b"BTH_METRIC "
METRIC_LINE_MAX = 64 * 1024
# After the command exits, its output is still read this long: a daemon it started may hold its
# stdout open, and the run must not wait for the daemon.
LOG_GRACE_S = 1.5


def _env_number(name: str, default: float) -> float:
    """The number in environment variable `name` (digits and a point), else `default`."""
    value = os.environ.get(name, "")
    return float(value) if value.replace(".", "", 1).isdigit() else default


def hash_cap_bytes() -> int:
    """Files above `$BTH_HASH_CAP_MB` (default 1024) keep only size and mtime."""
    return int(_env_number("BTH_HASH_CAP_MB", DEFAULT_HASH_CAP_BYTES / 2**20) * 2**20)


@attrs.frozen
class RunSpec:
    """What to run and how to label it; `target` is a script, or an executable when not a script.
    `parent_run_id` may be a unique prefix of the parent's id, resolved when the run starts."""

    target: str
    args: tuple[str, ...] = ()
    is_script: bool = True  # a .py file run with the project's interpreter
    cwd: Path = attrs.field(factory=Path.cwd)
    project: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    agent_mode: str | None = None
    parent_run_id: str | None = None
    campaign_id: str | None = None
    no_sidecar: bool = False
    # False: a script is not refused for having no sidecar where its directory requires one
    # (the rerun of a run recorded without one).
    sidecar_required: bool = True
    python: str | None = None
    outs: tuple[str, ...] = ()
    params: Mapping[str, str] | None = None
    catalog: Path | None = None  # where to record the run (default: the project's catalog)

    @classmethod
    def from_command(cls, target: str, args: Sequence[str], **labels: Any) -> RunSpec:
        """The spec of `bth run TARGET ARGS…`: a `.py` TARGET is a script run with the project's
        interpreter, `python x.py ARGS` runs x.py as a script with that interpreter, anything
        else is a command. A leading `--` in ARGS is dropped."""
        args = tuple(args)
        if args[:1] == ("--",):
            args = args[1:]
        if os.path.basename(target).startswith("python") and args and args[0].endswith(".py"):
            return cls(target=args[0], args=args[1:], is_script=True,
                       **{**labels, "python": labels.get("python") or target})
        return cls(target=target, args=args, is_script=target.endswith(".py"), **labels)


@attrs.frozen
class _PathState:
    exists: bool
    mtime_ns: int = 0
    ctime_ns: int = 0
    size: int = 0
    is_dir: bool = False


def _state(path: Path) -> _PathState:
    try:
        st = path.stat()
    except OSError:
        return _PathState(False)
    return _PathState(True, st.st_mtime_ns, st.st_ctime_ns, st.st_size, path.is_dir())


def _relative(path: Path, base: Path) -> str:
    resolved = path.resolve()
    return relative_posix(resolved, base) or str(resolved)


def _project_python(project: config.ProjectConfig | None) -> str | None:
    """`[run] python`: a path relative to the project root, or a name looked up on PATH."""
    if project is None or not project.python:
        return None
    value = project.python
    return str(project.root / value) if "/" in value else value


def resolve_python(spec: RunSpec, project: config.ProjectConfig | None) -> str:
    """`--python`, else `.bth.toml [run] python`, else `$VIRTUAL_ENV`, else python3 on PATH."""
    candidates = [
        (spec.python, "--python"),
        (_project_python(project), ".bth.toml [run] python"),
        (str(Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python")
         if os.environ.get("VIRTUAL_ENV") else None, "$VIRTUAL_ENV"),
    ]
    for value, source in candidates:
        if value:
            found = shutil.which(value) or (value if os.access(value, os.X_OK) else None)
            if not found:
                raise ConfigError(f"python interpreter {value!r} from {source} is not executable "
                                  "(fix the path)")
            return os.path.abspath(found)
    found = shutil.which("python3") or sys.executable
    return os.path.abspath(found)


def _script(spec: RunSpec) -> Path | None:
    """The script to run, checked; None for a command."""
    if not spec.is_script:
        return None
    script = (spec.cwd / spec.target).resolve()
    if script.is_dir():
        raise ConfigError(f"{spec.target} is a directory, not a script (give the .py file)")
    if not script.is_file():
        raise ConfigError(f"script {spec.target} does not exist (check the path)",
                          hint="for a command, use: bth run -- COMMAND ARGS")
    return script


def _executable(spec: RunSpec) -> str:
    """A command on PATH, or an executable file named relative to the working directory."""
    found = shutil.which(spec.target)
    if found:
        return os.path.abspath(found)
    local = spec.cwd / spec.target
    if local.is_dir():
        raise ConfigError(f"{spec.target} is a directory, not a script or command (give the "
                          ".py file)")
    if local.is_file():
        if not os.access(local, os.X_OK):
            raise ConfigError(f"{spec.target} is neither a .py script nor executable "
                              "(chmod +x it)")
        return str(local.resolve())
    raise ConfigError(f"command {spec.target!r} not found or not executable (check the name, "
                      "or give a path)")


def _command(spec: RunSpec, script: Path | None,
             project: config.ProjectConfig | None) -> tuple[list[str], str | None]:
    """The argv to execute, and the interpreter when it is a Python script."""
    if script is None:
        return [_executable(spec), *spec.args], None
    python = resolve_python(spec, project)
    return [python, str(script), *spec.args], python


def _find_project(spec: RunSpec, script: Path | None) -> config.ProjectConfig | None:
    for start in (script.parent if script else None, spec.cwd):
        if start is not None:
            found = config.find_project(start)
            if found:
                return found
    return None


def _sidecar(admission: enforcement.Admission,
             base: Path) -> tuple[Sidecar | None, Dependency | None]:
    """The run's sidecar record and dependency: the file's path and hash whenever there is one,
    and whether the run was judged by it or bypassed it."""
    from bathos.provenance.deps import file_dependency

    mode = "bypassed" if admission.bypassed else "recorded"
    if admission.path is None or not admission.exists:
        return (Sidecar(path=None, sha256=None, mode=mode) if admission.bypassed else None), None
    dep = file_dependency(admission.path, "sidecar", base)
    return Sidecar(path=dep.path, sha256=dep.sha256, mode=mode), dep


def _judged(run: Run, base: Path, catalog: Path, loaded: SidecarSpec | None) -> Run:
    """The ended run with its outcome by the sidecar it started with (`loaded` when `bth run`
    already read it, at the start), whose content is kept as a blob (`Sidecar.blob`); as it was
    when it had none, or an invalid one (a warning says why)."""
    if run.sidecar is None or run.sidecar.path is None:
        return run
    from bathos.sidecar import evaluate_outcome, parse_sidecar

    try:
        data = (base / run.sidecar.path).read_bytes()
        if blobs.blob_ref(data) != run.sidecar.sha256:
            return attrs.evolve(run, outcome=RunOutcome(
                "unknown", reason="the sidecar changed while the run ran"))
        spec = loaded or parse_sidecar(data, run.sidecar.path)
    except (OSError, ConfigError) as exc:
        log.warning("run %s: no outcome recorded: %s", run.id, exc)
        return run
    blob = None
    with contextlib.suppress(OSError):  # an unwritable catalog: the record is spilled anyway
        blob = blobs.put_blob(catalog, data)
    return attrs.evolve(run, outcome=evaluate_outcome(spec, run.results, run.exit_code),
                        sidecar=attrs.evolve(run.sidecar, blob=blob))


@attrs.define
class ActiveRun:
    """A run whose `running` record is in the catalog; `finish` writes its final record."""

    run: Run
    catalog: Path
    command: list[str]
    base: Path
    fragment: Path
    scratch: Path
    output_dir: Path
    watched: dict[Path, _PathState]  # paths named in the arguments or as outputs, as they were
    named_outputs: frozenset[Path]  # those named as outputs: never inputs
    scan_roots: tuple[Path, ...]  # where the tree scan looks for files the run changed
    scan_rules: scan.Rules
    started_monotonic: float
    since_ns: int  # files changed at or after this (the file system's clock, see `begin`) are new
    redactor: Redactor  # what it took out of the record is scrubbed from the kept logs
    # A Python script runs through the bootstrap, which reports the files it touches and puts
    # these directories on its sys.path; None for any other command.
    import_paths: tuple[Path, ...] | None = None
    sidecar_spec: SidecarSpec | None = None  # the sidecar as checked at the start, if it was
    campaign_project: str | None = None  # the project of the run's campaign, if it has one
    # Why the catalog could not take the run (None while it can), and where it was spilled.
    unrecorded: str | None = None
    spill: Path | None = None
    kept_logs: dict[str, bytes] = attrs.field(factory=dict)
    logs_unstored: bool = False
    scratch_lock: int | None = None
    ended: tuple[dt.datetime, float] | None = None
    _stop: threading.Event = attrs.field(factory=threading.Event)

    @property
    def child_env(self) -> dict[str, str]:
        """Variables the child sees: its run id, output directory, results and metrics files."""
        return {
            "BTH_RUN_ID": self.run.id,
            "BTH_PROJECT_SLUG": self.run.project,
            "BTH_OUTPUT_DIR": str(self.output_dir),
            "BTH_RESULTS_PATH": str(self.scratch / "results.jsonl"),
            "BTH_METRICS_PATH": str(self.scratch / METRICS_FILE),
            "BTH_CATALOG_DIR": str(self.catalog),
        }

    def launch_command(self) -> list[str]:
        """The argv to start: a Python script goes through the bootstrap, in its interpreter."""
        if self.import_paths is None:
            return self.command
        from bathos.provenance.observation import BOOTSTRAP, REPORT_FILE

        python, *script_and_args = self.command
        paths = [arg for path in self.import_paths for arg in ("--path", str(path))]
        return [python, str(BOOTSTRAP), str(self.scratch / REPORT_FILE), *paths,
                "--code-cache", str(config.bth_home() / "cache" / "code"), *script_and_args]

    def begin(self) -> None:
        """Write the running record and start the heartbeat.

        A catalog that cannot be written does not stop the run: it goes on unrecorded (see
        `unrecorded`), with its scratch files in a temporary directory; `finish` tries the
        catalog again, and spills the run if it still cannot take it.
        """
        with contextlib.suppress(OSError):
            self.output_dir.mkdir(parents=True, exist_ok=True)
            # The file system's own clock, which files the run writes are stamped by: it may be
            # coarser than the system's (1-2 s on some), or a few ms behind it (Linux).
            self.since_ns = self.output_dir.stat().st_mtime_ns
        try:
            self.fragment = store.write_run(self.catalog, self.run)
        except OSError as exc:
            self.note_unwritable(exc)
        if self.unrecorded is None:
            self._join_campaign()
            with contextlib.suppress(OSError):
                self.scratch_lock = _hold_scratch(self.scratch)
        if self.scratch_lock is None:  # beside an unwritable catalog, results could not be kept
            self.scratch = _temporary_scratch(self.run.id, self.scratch)
        if self.unrecorded is None:
            threading.Thread(target=self._heartbeat, name="bth-heartbeat", daemon=True).start()

    def _join_campaign(self) -> None:
        """Write the add event of the run's campaign (checked open by `start_run`): one file of
        its own, so parallel runs never contend. Should it fail, the record's `campaign_id`
        still makes the run a member."""
        if self.run.campaign_id is None:
            return
        from bathos.campaigns import append_event

        try:
            append_event(self.catalog, self.campaign_project or self.run.project,
                         self.run.campaign_id, "add", runs=[self.run.id])
        except (OSError, ConfigError) as exc:
            log.warning("run %s: campaign %s: its add event was not written (%s); its record "
                        "names the campaign", self.run.id, self.run.campaign_id, exc)

    def note_unwritable(self, exc: OSError) -> None:
        """Remember why the catalog cannot be written; the run goes on unrecorded."""
        self.unrecorded = f"cannot write catalog {self.catalog}: {exc.strerror or exc}"

    def script_ended(self) -> None:
        """Mark the moment the command exited: the run's end, whatever comes after it."""
        self.ended = (utcnow(), time.monotonic())

    def _heartbeat(self) -> None:
        while not self._stop.wait(store.HEARTBEAT_INTERVAL_S):
            with contextlib.suppress(OSError):
                store.touch_heartbeat(self.fragment)

    def withdraw(self) -> None:
        """Remove every trace of a run that never started."""
        self._stop.set()
        if self.unrecorded is None:
            self.fragment.unlink(missing_ok=True)
        self._remove_scratch()
        with contextlib.suppress(OSError):
            self.output_dir.rmdir()

    def _remove_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.scratch_lock is not None:
            os.close(self.scratch_lock)
            self.scratch_lock = None

    def finish(self, *, status: str, exit_code: int | None, signal_name: str | None = None,
               error: str | None = None, results: Mapping[str, Any] | None = None,
               logs: Logs | None = None) -> Run:
        """Record the end: outputs, inputs, results, logs; remove the run's scratch files.

        When the catalog cannot take the final record, the running record stays as it was (it
        reads as lost) and the final one is spilled with its logs (`spill`), to be imported later.
        """
        self._stop.set()
        events = read_results(self.scratch / "results.jsonl")
        points = _read_points(self.scratch / METRICS_FILE, self.run.id)
        observed = self._observation()
        inputs, outputs, capture = self._files(observed)
        merged = _bounded({**(points.last if points else {}), **events.results,
                           **(results or {})})
        error = error or events.error
        ended, ended_monotonic = self.ended or (utcnow(), time.monotonic())
        run = attrs.evolve(
            self.run,
            status=status,  # type: ignore[arg-type]
            exit_code=exit_code, signal=signal_name,
            error=self.redactor.text(error) if error else None,
            ended_at=ended, updated_at=ended,
            duration_s=round(ended_monotonic - self.started_monotonic, 6),
            dependencies=(*self.run.dependencies, *inputs), outputs=outputs,
            results=self.redactor.data(merged), logs=logs,
            name=self.run.name or events.name,
            tags=tuple(dict.fromkeys((*self.run.tags, *events.tags))),
            params={**self.run.params, **self.redactor.params(_parsed_params(observed)),
                    **self.redactor.params(events.params)},
            capture=capture,
        )
        self.run = run = _judged(run, self.base, self.catalog, self.sidecar_spec)
        self._record(run, points)
        self._remove_scratch()
        with contextlib.suppress(OSError):
            self.output_dir.rmdir()  # only if the run left it empty (and nothing was spilled)
        return run

    def _record(self, run: Run, points: Points | None) -> None:
        """Write the run's points, then its final record; or spill both (with the kept logs) if
        the catalog cannot take them."""
        encoded = None
        if points:
            from bathos.catalog import metrics

            encoded = metrics.encode(points)
        if not self.logs_unstored:
            try:
                if encoded is not None:
                    metrics.write_points(self.catalog, run.project, run.id, encoded)
                store.write_run(self.catalog, run)
                self.unrecorded = None  # a catalog that failed at the start may take the end
                return
            except OSError as exc:
                self.note_unwritable(exc)
        from bathos.catalog import spill

        self.spill = spill.write_spill(unstructure(run), self.kept_logs,
                                       spill.spill_places(self.output_dir, run.id),
                                       points=encoded)
        where = (f"its record and logs are kept in {self.spill}" if self.spill else
                 "nothing of it could be kept (no spill place was writable)")
        log.warning("run %s could not be recorded (%s); %s", run.id, self.unrecorded, where,
                    extra={"hint": f"bth import-spill {self.spill} records it"}
                    if self.spill else {})

    def _files(self, observed: Observation | None = None,
               ) -> tuple[list[Dependency], tuple[Output, ...], Capture]:
        """Inputs and outputs, and how they were found.

        A path named in the arguments or as an output is judged by its own state: changed during
        the run, it is an output; unchanged, an input, or not written when it was named as an
        output. The tree scan of the run's directories adds every other file the run changed,
        and what the bootstrap `observed` a Python script read and write adds the rest.
        """
        cap = hash_cap_bytes()
        inputs, written, not_written, directories = self._named_files(cap)
        found = scan.changed_files(
            (self.output_dir, *directories, *self.scan_roots), self.since_ns, self.scan_rules,
            max_entries=int(_env_number("BTH_SCAN_MAX_ENTRIES", scan.MAX_ENTRIES)),
            max_seconds=_env_number("BTH_SCAN_MAX_SECONDS", scan.MAX_SECONDS))
        named = {_relative(p, self.base) for p in self.watched if p not in directories}
        for path in found.paths:
            relpath = _relative(path, self.base)
            if relpath not in named:
                written[relpath] = path
        if observed is not None:
            self._add_observed(observed, inputs, written, cap)
        digests = _digests(written, cap)
        capture = Capture(scanned=found.visited, scan_s=found.seconds,
                          scan_capped=found.capped is not None, not_written=not_written,
                          modified_tracked=self._modified_tracked(digests))
        _warn_about(found, capture)
        outputs = tuple(Output(path=relpath, size=d.size, sha256=d.sha256, mtime=d.mtime)
                        for relpath, d in digests.items())
        return inputs, outputs, capture

    def _named_files(self, cap: int) -> tuple[list[Dependency], dict[str, Path], tuple[str, ...],
                                              list[Path]]:
        """The named paths sorted out: inputs, outputs written (by relative path), outputs not
        written, and directories (walked by the scan)."""
        from bathos.provenance.deps import file_dependency

        inputs: list[Dependency] = []
        written: dict[str, Path] = {}
        not_written: dict[str, None] = {}
        directories: list[Path] = []
        for path, before in self.watched.items():
            after = _state(path)
            if after.is_dir or before.is_dir:
                directories.append(path)
            elif after.exists and after != before:
                written[_relative(path, self.base)] = path
            elif path in self.named_outputs:
                not_written[_relative(path, self.base)] = None
            elif after.exists:
                inputs.append(file_dependency(path, "input", self.base, cap_bytes=cap))
        return inputs, written, tuple(not_written), directories

    def _observation(self) -> Observation | None:
        """What the bootstrap saw the script do; None for a command it did not run."""
        if self.import_paths is None:
            return None
        from bathos.provenance.observation import REPORT_FILE, read_report

        return read_report(self.scratch / REPORT_FILE)

    def _add_observed(self, observed: Observation, inputs: list[Dependency],
                      written: dict[str, Path], cap: int) -> None:
        """Add to `inputs` and `written` the files the script was seen to read and write, but
        its code and the files already there."""
        from bathos.provenance.deps import file_dependency
        from bathos.provenance.observation import Exclusions, own_prefixes

        recorded = [*(d.path for d in (*self.run.dependencies, *inputs)), *written]
        excluded = Exclusions(
            prefixes=own_prefixes(config.bth_home(), self.catalog, self.scratch),
            known=frozenset(os.path.realpath(self.base / path) for path in recorded),
            glob=scan.excluder(self.scan_rules.exclude, self.scan_rules.exclude_root))
        read, wrote = observed.files(since_ns=self.since_ns, excluded=excluded)
        outputs = {os.path.realpath(p) for p in (
            *self.named_outputs, *_output_option_paths(observed.params, self.run.cwd or "."))}
        for path in read:
            if os.path.realpath(path) in outputs:
                continue  # named as an output, and not written: never an input
            with contextlib.suppress(ProvenanceError):  # gone since it was seen
                inputs.append(file_dependency(path, "input", self.base, cap_bytes=cap))
        for path in wrote:
            written.setdefault(_relative(path, self.base), path)

    def _modified_tracked(self, digests: Mapping[str, FileDigest]) -> tuple[str, ...]:
        """The outputs tracked by git whose content is not what git's index holds."""
        inside = [relpath for relpath in digests if not os.path.isabs(relpath)]
        if self.run.git is None or not inside:
            return ()
        from bathos.provenance.git import index_blob_ids

        try:
            index = index_blob_ids(self.base)
        except ProvenanceError as exc:
            log.warning("cannot tell which tracked files the run changed: %s", exc)
            return ()
        return tuple(relpath for relpath in inside
                     if relpath in index and digests[relpath].git_blob != index[relpath][0])


def _digests(written: Mapping[str, Path], cap: int) -> dict[str, FileDigest]:
    """The hashes of the files written, in path order; a file gone since is left out."""
    from bathos.hashing import hash_file

    digests = {}
    for relpath in sorted(written):
        with contextlib.suppress(OSError):
            digests[relpath] = hash_file(written[relpath], cap_bytes=cap)
    return digests


def _warn_about(found: scan.Scan, capture: Capture) -> None:
    """One line for each thing about the run's files its user should know."""
    if found.capped == "files":
        log.warning("more than %d files changed during the run: recorded the first %d as its "
                    "outputs", scan.MAX_CHANGED, scan.MAX_CHANGED)
    elif found.capped:
        log.warning("the scan for files the run wrote stopped at its cap (%d entries in %.1f s): "
                    "outputs beyond it may be missing (leave large directories out with "
                    ".bth.toml [capture] exclude)", found.visited, found.seconds)
    if capture.not_written:
        log.warning("not written by this run, so not recorded as its output: %s",
                    ", ".join(capture.not_written))
    if capture.modified_tracked:
        log.warning("the run changed files tracked by git: %s (the next run's tree is dirty "
                    "until they are committed or restored)", ", ".join(capture.modified_tracked))


def _parsed_params(observed: Observation | None) -> dict[str, str | list[str]]:
    """The values the script's argparse or Click parser parsed, as the run records them."""
    if observed is None:
        return {}
    from bathos.provenance.observation import param_text

    return {key: param_text(value) for key, value in observed.params.items()}


def _hold_scratch(scratch: Path) -> int:
    """Make the run's scratch directory and hold a lock in it that the command inherits, so it
    stays held while any process of the run lives (`store.remove_dead_scratch` tests it)."""
    scratch.mkdir(parents=True, exist_ok=True)
    fd = os.open(scratch / config.SCRATCH_LOCK, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _temporary_scratch(run_id: str, fallback: Path) -> Path:
    import tempfile  # only when the catalog cannot be written

    try:
        return Path(tempfile.mkdtemp(prefix=f"bth-run-{run_id}-"))
    except OSError:
        return fallback


def _code_dependencies(script: Path | None, command: str, base: Path,
                       cache: Path) -> list[Dependency]:
    """A Python script and the local modules it imports (inside `base`, which is the repository,
    or outside git the project root or cwd when it holds the script); for a command, its file
    when it lies inside `base` (a shell script of the project, not /usr/bin/make)."""
    from bathos.provenance import deps

    if script is None:
        program = Path(command)
        inside = program.is_file() and program.resolve().is_relative_to(base)
        return [deps.file_dependency(program, "script", base)] if inside else []
    return deps.scan_dependencies(script, base if script.is_relative_to(base) else None,
                                  cache_dir=cache)


def _import_paths(script: Path | None, project: config.ProjectConfig | None, in_git: bool,
                  base: Path) -> tuple[Path, ...] | None:
    """Where a script imports the project's own code from: the project's import paths, else the
    repository root; None for a command."""
    if script is None:
        return None
    if project is not None:
        return project.import_paths
    return (base,) if in_git else ()


def _resolve_parent(catalog: Path, id_or_prefix: str | None) -> str | None:
    """The full id of the run this one derives from (RunNotFound, AmbiguousRunId)."""
    if id_or_prefix is None:
        return None
    from bathos.catalog.catalog import Catalog

    return Catalog(catalog).resolve(id_or_prefix)


def start_run(spec: RunSpec, *, environ: Mapping[str, str] | None = None) -> ActiveRun:
    """Validate the spec, capture provenance, and return the run ready to `begin`."""
    from bathos.provenance import environment, git, host, params, secrets, slurm

    environ = os.environ if environ is None else environ
    started_at = utcnow()
    started_monotonic = time.monotonic()
    since_ns = time.time_ns()
    tags = config.check_tags(spec.tags)
    script = _script(spec)
    project = _find_project(spec, script)
    admission = enforcement.admit(script, project, no_sidecar=spec.no_sidecar,
                                  agent_mode=spec.agent_mode, required=spec.sidecar_required)
    command, python = _command(spec, script, project)
    slug = config.check_slug(spec.project or environ.get("BTH_PROJECT_SLUG") or (
        project.slug if project else None) or config.slug_from_name(spec.cwd.resolve().name))
    catalog = spec.catalog or config.catalog_dir(project)
    campaign_project = None
    if spec.campaign_id is not None:
        from bathos.campaigns import check_open

        campaign_project = check_open(catalog, spec.campaign_id)
    parent = _resolve_parent(catalog, spec.parent_run_id)
    redactor = (secrets.Redactor(project.secret_names, project.secret_values) if project
                else secrets.Redactor())
    git_info = git.capture_git(script or spec.cwd,
                               secret_files=project.secret_files if project else ())
    base = Path(git_info.repo_root) if git_info else (project.root if project else spec.cwd)
    base = base.resolve()
    cache = config.bth_home() / "cache"
    dependencies = _code_dependencies(script, command[0], base, cache)
    sidecar, sidecar_dep = _sidecar(admission, base)
    recorded_script = _recorded_script(spec, script, command[0], base)
    enforcement.check_unchanged(admission, catalog, slug, recorded_script,
                                sidecar.sha256 if sidecar else None)
    run_id = ids.new_run_id()
    argv = redactor.argv(spec.args)
    run_params = redactor.params(params.parse_params(argv) if spec.params is None
                                 else spec.params)
    candidates = params.candidate_paths(spec.args, spec.cwd)
    named_outputs = frozenset(_named_outputs(spec, run_params, candidates))
    watched = {p: _state(p) for p in (*candidates, *sorted(named_outputs))}
    output_root = project.root if project else spec.cwd
    run = Run(
        id=run_id, project=slug, started_at=started_at, updated_at=started_at, status="running",
        name=spec.name, script=recorded_script,
        argv=argv, params=run_params,
        cwd=str(spec.cwd.resolve()), host=host.capture_host(),
        slurm=slurm.capture_slurm(environ, started_at),
        git=git_info, dependencies=(*dependencies, *([sidecar_dep] if sidecar_dep else [])),
        environment=environment.capture_environment(
            python, project.root if project else base, environ=environ,
            extra_vars=project.env if project else (), cache_dir=cache, redactor=redactor,
            catalog=catalog),
        tags=tags, parent_run_id=parent,
        campaign_id=spec.campaign_id, agent_mode=admission.agent_mode,  # type: ignore[arg-type]
        sidecar=sidecar,
    )
    return ActiveRun(
        run=run, catalog=catalog, command=command, base=base,
        fragment=store.fragment_path(catalog, slug, run_id),
        scratch=config.scratch_dir(run_id),
        output_dir=output_root / "outputs" / run_id,
        watched=watched, named_outputs=named_outputs,
        scan_roots=(spec.cwd, project.root if project else base),
        scan_rules=_scan_rules(project, catalog, output_root, run_id),
        started_monotonic=started_monotonic, since_ns=since_ns, redactor=redactor,
        import_paths=_import_paths(script, project, git_info is not None, base),
        sidecar_spec=admission.spec, campaign_project=campaign_project,
    )


def _recorded_script(spec: RunSpec, script: Path | None, program: str, base: Path) -> str:
    """The run's script as recorded: a script's path relative to `base`; a command given as a
    path inside `base` the same way (`./tools/x.sh` from anywhere is `tools/x.sh`); any other
    command as it was given."""
    if script is not None:
        return _relative(script, base)
    if "/" in spec.target:
        return relative_posix(Path(program).resolve(), base) or spec.target
    return spec.target


def _named_outputs(spec: RunSpec, run_params: Mapping[str, str | list[str]],
                   candidates: Sequence[Path]) -> list[Path]:
    """The paths named as outputs: each of `spec.outs`, and each of the `candidates` (argument
    paths) that is a value of an option whose name says it is an output (`--out`,
    `--output-dir`, `--save-path` …)."""
    here = os.path.abspath(spec.cwd)  # as `params.candidate_paths` makes them absolute
    options = _output_option_paths(run_params, here)
    return [*(Path(os.path.normpath(os.path.join(here, o))) for o in spec.outs),
            *(p for p in candidates if p in options)]


def _output_option_paths(params: Mapping[str, Any], cwd: str | Path) -> set[Path]:
    """The values of the options whose name says they name an output, as absolute paths."""
    here = os.path.abspath(cwd)
    return {Path(os.path.normpath(os.path.join(here, v)))
            for k, values in params.items() if OUTPUT_OPTION.fullmatch(k)
            for v in (values if isinstance(values, list) else [values])
            if isinstance(v, str) and v}


def _scan_rules(project: config.ProjectConfig | None, catalog: Path, output_root: Path,
                run_id: str) -> scan.Rules:
    """What the tree scan leaves out: bathos's own files, other runs' output directories, and
    the project's `[capture] exclude` globs."""
    return scan.Rules(
        skipped=frozenset(os.path.realpath(p) for p in (catalog, config.bth_home())),
        outputs_dir=os.path.realpath(output_root / "outputs"), own_run=run_id,
        exclude=project.capture_exclude if project else (),
        exclude_root=os.path.realpath(project.root if project else output_root),
    )


@attrs.frozen
class ChildEvents:
    """What the child reported through `$BTH_RESULTS_PATH`."""

    results: dict[str, Any] = attrs.field(factory=dict)
    params: dict[str, str] = attrs.field(factory=dict)
    tags: tuple[str, ...] = ()
    name: str | None = None
    error: str | None = None


# A run keeps at most this much of results as JSON; more belongs in files under $BTH_OUTPUT_DIR.
RESULTS_MAX_BYTES = 1_000_000


def read_results(path: Path) -> ChildEvents:
    """Results written by the child: JSON lines (bth.log, the decorator) or one JSON object.

    A file nested too deep for JSON to parse at all is left out with one warning.
    """
    from bathos.catalog.schema import MAX_NESTING

    try:
        items = _result_items(path.read_bytes())
    except OSError:
        return ChildEvents()
    except RecursionError:  # too deep for json to parse at all
        _left_out([f"nested deeper than {MAX_NESTING} levels"])
        return ChildEvents()
    if items is None:
        log.warning("ignored unreadable results file %s (write JSON lines or one JSON object)",
                    path)
        return ChildEvents()
    results: dict[str, Any] = {}
    params: dict[str, str] = {}
    tags: list[str] = []
    name = error = None
    for item in items:
        if not isinstance(item, dict):
            continue
        event = item.get(RESULTS_EVENT)
        if event is None:
            results.update(item)
        elif event == "meta":
            meta_params, meta_tags = item.get("params"), item.get("tags")
            if isinstance(meta_params, dict):
                params.update({k: str(v) for k, v in meta_params.items()})
            tags.extend(str(t) for t in (meta_tags if isinstance(meta_tags, list) else ()))
            name = str(item["name"]) if item.get("name") else name
        elif event == "error":
            error = None if item.get("error") is None else str(item["error"])
        elif event == "log" and isinstance(item.get("values"), dict):
            results.update(item["values"])
    return ChildEvents(results, params, tuple(tags), name, error)


def _read_points(path: Path, run_id: str) -> Points | None:
    """The points the run logged (bth.log, `BTH_METRIC` lines, $BTH_METRICS_PATH), warned about;
    None when it logged none (nothing is imported for a run without metrics)."""
    if not path.exists():
        return None
    from bathos.catalog import metrics

    points = metrics.read_logged(path)
    metrics.warn_about(points, run_id)
    return points


def _bounded(results: dict[str, Any]) -> dict[str, Any]:
    """`results` without what would make the run's record unreadable, with one warning, never
    losing the run: what is nested deeper than `schema.MAX_NESTING` levels, or all of them when
    they are more than RESULTS_MAX_BYTES of JSON."""
    from bathos.catalog.schema import MAX_NESTING, is_nested_within

    deep = [k for k, v in results.items() if not is_nested_within(v, MAX_NESTING - 1)]
    kept = {k: v for k, v in results.items() if k not in deep}
    left_out = [f"{', '.join(map(repr, deep[:5]))} nested deeper than {MAX_NESTING} levels"
                ] if deep else []
    size = len(json.dumps(kept, default=str))
    if size > RESULTS_MAX_BYTES:
        left_out.append(f"{size / 1e6:.1f} MB of JSON, over the {RESULTS_MAX_BYTES / 1e6:g} MB "
                        "limit (keep large results in files under $BTH_OUTPUT_DIR)")
        kept = {}
    if left_out:
        _left_out(left_out)
    return kept


def _left_out(reasons: list[str]) -> None:
    log.warning("results the script wrote (bth.log, $BTH_RESULTS_PATH) not recorded: %s",
                "; ".join(reasons))


def _result_items(raw: bytes) -> list[Any] | None:
    """The JSON items of a results file: JSON lines, or else one JSON object; None if neither."""
    try:
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    except ValueError:
        pass
    try:
        return [json.loads(raw)]
    except ValueError:
        return None


def append_event(path: str | os.PathLike[str], event: Mapping[str, Any]) -> None:
    """Append one JSON line to a results file (a single write, so concurrent lines stay whole).

    A file that cannot be written (a full disk) is warned about, not raised: the script's work
    comes first."""
    data = (json.dumps(event, default=str, separators=(",", ":")) + "\n").encode()
    try:
        append_whole(path, data)
    except OSError as exc:
        log.warning("results not recorded: cannot write %s: %s", path, exc.strerror or exc)


class _MetricLines:
    """Finds the `BTH_METRIC {json}` lines in a stream as it passes (across chunk boundaries) and
    appends their JSON to the metrics file, stamped with the time they were read unless they
    give one. A chunk without the marker costs one search of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rest = b""  # the unfinished last line, while it may be a metric line
        self.midline = False  # the next chunk continues a line that is not one

    def feed(self, chunk: bytes) -> None:
        data, at_start = (self.rest + chunk, True) if self.rest else (chunk, not self.midline)
        found: list[bytes] = []
        pos = data.find(METRIC_MARKER)
        while pos >= 0:
            if (pos == 0 and at_start) or (pos > 0 and data[pos - 1] == 10):  # starts a line
                end = data.find(b"\n", pos)
                if end < 0:
                    break  # the unfinished last line, kept below
                found.append(data[pos + len(METRIC_MARKER):end])
                pos = data.find(METRIC_MARKER, end + 1)
            else:
                pos = data.find(METRIC_MARKER, pos + 1)
        last = data.rfind(b"\n")
        tail = data[last + 1:]
        starts_line = last >= 0 or at_start
        self.rest = b""
        if starts_line and (tail.startswith(METRIC_MARKER) or METRIC_MARKER.startswith(tail)):
            if len(tail) > METRIC_LINE_MAX:
                found.append(b"{}")  # too long to be one: counted as a bad line
            else:
                self.rest = tail
        self.midline = bool(tail) and not self.rest
        if found:
            self._append(found)

    def end(self) -> None:
        """The stream ended: a last metric line without its newline counts too."""
        if self.rest.startswith(METRIC_MARKER):
            self._append([self.rest[len(METRIC_MARKER):]])
        self.rest = b""

    def _append(self, payloads: list[bytes]) -> None:
        stamp = b'{"time":%.6f,' % time.time()
        lines = [stamp + p.strip()[1:] if b'"time"' not in p and p.lstrip().startswith(b"{")
                 else p for p in payloads]
        # From a new line: a program writing the file too may have left one unfinished.
        with contextlib.suppress(OSError):  # the scratch is gone or full: the run goes on
            append_whole(self.path, b"\n" + b"\n".join(lines) + b"\n")


class _Tee(threading.Thread):
    """Copies a child's stream to ours as it comes, and to its live log (which takes the secrets
    out), keeping the first and last parts of what the live log took for the run's log.

    It reads until the stream ends or, once `stop_at` has set a deadline, until that deadline: a
    daemon the command left behind may hold the stream open for as long as it lives.
    """

    def __init__(self, source: IO[bytes], sink: IO[bytes], live: LiveLog,
                 metric_lines: _MetricLines | None = None) -> None:
        super().__init__(daemon=True)
        self.source, self.sink, self.live = source, sink, live
        self.metric_lines = metric_lines
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.deadline: float | None = None

    def stop_at(self, deadline: float) -> None:
        self.deadline = deadline

    def run(self) -> None:
        try:
            self._pump()
        finally:
            self._keep(self.live.close())

    def _pump(self) -> None:
        fd = self.source.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            deadline = self.deadline
            if deadline is None:
                wait_ms = 100  # until the command exits, wake now and then to see a deadline
            elif (left := deadline - time.monotonic()) > 0:
                wait_ms = max(1, int(left * 1000))
            else:
                return
            if poller.poll(wait_ms) and not self._copy(os.read(fd, 65536)):
                return

    def _copy(self, chunk: bytes) -> bool:
        """Pass one chunk on and keep it; False at the end of the stream."""
        if not chunk:
            return False
        with contextlib.suppress(OSError, ValueError):
            self.sink.write(chunk)
            self.sink.flush()
        if self.metric_lines is not None:
            self.metric_lines.feed(chunk)
        self._keep(self.live.add(chunk))
        return True

    def _keep(self, chunk: bytes) -> None:
        self.total += len(chunk)
        half = LOG_CAP_BYTES // 2
        room = half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > 2 * half:
            del self.tail[: len(self.tail) - half]

    def kept(self) -> tuple[bytes, bool]:
        tail = bytes(self.tail[-(LOG_CAP_BYTES // 2):])
        truncated = len(self.head) + len(tail) < self.total
        marker = TRUNCATED if truncated else b""
        return bytes(self.head) + marker + tail, truncated


def _terminal_sends_to_child() -> bool:
    """True when Ctrl-C at a terminal already reaches the child (it shares our foreground group)."""
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


@attrs.frozen
class Outcome:
    """A finished run and the exit code `bth run` should exit with."""

    run: Run
    exit_code: int


def execute(active: ActiveRun, *, on_started: Callable[[Run], None] | None = None,
            environ: Mapping[str, str] | None = None) -> Outcome:
    """Run the command, forwarding signals and teeing its output; record how it ended. The
    command sees `environ` (default: ours) and the run's own variables.

    A command the system cannot start (a bad `#!` line, a binary for another machine) is bad
    input: its running record is withdrawn and a ConfigError raised.
    """
    active.begin()
    env = {**(os.environ if environ is None else environ), **active.child_env}
    env.setdefault("PYTHONUNBUFFERED", "1")
    inherited = () if active.scratch_lock is None else (active.scratch_lock,)
    lives = [LiveLog(active.scratch, stream, active.redactor) for stream in STREAMS]
    try:
        proc = subprocess.Popen(active.launch_command(), cwd=active.run.cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=inherited)
    except OSError as exc:
        for live in lives:
            live.close()
        active.withdraw()
        raise ConfigError(f"cannot start {active.command[0]}: {exc.strerror} (check that it is "
                          "a program for this machine and its #! line names an interpreter "
                          "that exists)") from exc
    if on_started is not None:
        on_started(active.run)
    received: list[int] = []
    asked: dict[int, tuple[dt.datetime, JobInfo | None]] = {}
    job_id = active.run.slurm.job_id if active.run.slurm else None

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if not (signum == signal.SIGINT and _terminal_sends_to_child()):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
        if job_id is not None and signum not in asked:  # why did SLURM send it?
            from bathos.provenance.slurm import query_job

            asked[signum] = when = (utcnow(), None)
            asked[signum] = (when[0], query_job(job_id, environ=environ))

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    metric_lines = _MetricLines(active.scratch / METRICS_FILE)
    tees = [_Tee(proc.stdout, sys.stdout.buffer, lives[0], metric_lines),  # type: ignore[arg-type]
            _Tee(proc.stderr, sys.stderr.buffer, lives[1])]  # type: ignore[arg-type]
    for tee in tees:
        tee.start()
    try:
        returncode = proc.wait()
        active.script_ended()
        deadline = time.monotonic() + LOG_GRACE_S
        for tee in tees:
            tee.stop_at(deadline)
        for tee in tees:
            tee.join()
        metric_lines.end()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for stream in (proc.stdout, proc.stderr):
        stream.close()  # type: ignore[union-attr]
    logs = _store_logs(active, tees)
    return _conclude(active, returncode, received, logs, _slurm_ending(asked))


def _store_logs(active: ActiveRun, tees: Sequence[_Tee]) -> Logs:
    """The kept part of each stream (the live log took out the secrets the record left out),
    stored as a blob; the run keeps the bytes too, to spill them with its record when the catalog
    cannot take them."""
    (out, out_cut), (err, err_cut) = (t.kept() for t in tees)
    active.kept_logs = {"stdout": out, "stderr": err}
    return Logs(
        stdout=_put_log(active, out) if out else None,
        stderr=_put_log(active, err) if err else None,
        stdout_bytes=tees[0].total, stderr_bytes=tees[1].total, truncated=out_cut or err_cut,
    )


def _put_log(active: ActiveRun, data: bytes) -> str:
    try:
        return blobs.put_blob(active.catalog, data)
    except OSError as exc:
        active.note_unwritable(exc)
        active.logs_unstored = True
        return blobs.blob_ref(data)


def _conclude(active: ActiveRun, returncode: int, received: list[int], logs: Logs,
              ending: tuple[str, JobInfo] | None = None) -> Outcome:
    """Record how the command ended: by its exit code, by a signal (`received`: sent to `bth
    run` and forwarded), or as the SLURM job's `ending` says (time limit, scancel)."""
    signal_name = error = None
    exit_code: int | None = returncode
    if returncode < 0:
        signal_name = signal.Signals(-returncode).name
        status, exit_code, error = ("interrupted" if received else "failed"), None, (
            f"killed by {signal_name}")
    elif received and returncode != 0:
        status, signal_name = "interrupted", signal.Signals(received[0]).name
    else:
        status = "completed" if returncode == 0 else "failed"
    if ending is not None and active.run.slurm is not None:
        status, info = ending
        error = info.says if error is None else f"{info.says}; {error}"
        signal_name = signal_name or signal.Signals(received[0]).name
        active.run = attrs.evolve(active.run, slurm=info.into(active.run.slurm))
    run = active.finish(status=status, exit_code=exit_code, signal_name=signal_name, logs=logs,
                        error=error)
    return Outcome(run, 128 - returncode if returncode < 0 else returncode)


def _slurm_ending(asked: Mapping[int, tuple[dt.datetime, JobInfo | None]],
                  ) -> tuple[str, JobInfo] | None:
    """What SLURM's answers at the signals say ended the run: the job timed out or was
    cancelled (ending, not by its time limit), or a warning signal (`--signal=B:USR1@60`) came
    in its last minutes. None outside SLURM, or for a signal the scheduler did not send (a
    `kill` at the shell)."""
    from bathos.provenance.slurm import WARNING_WINDOW_S

    for signum, (when, info) in asked.items():
        if info is None:
            continue
        if info.status in ("timeout", "cancelled"):
            return info.status, info
        if info.state == "COMPLETING":  # being ended, not by its time limit: scancel
            return "cancelled", attrs.evolve(info, state="CANCELLED")
        left = info.remaining_s(when)
        if (signum in (signal.SIGUSR1, signal.SIGUSR2) and info.state == "RUNNING"
                and left is not None and left <= WARNING_WINDOW_S):
            return "timeout", attrs.evolve(info, state="TIMEOUT", reason=(
                f"{signal.Signals(signum).name} {left:.0f}s before the time limit"))
    return None
