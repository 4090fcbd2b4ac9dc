"""What differs between two runs, section by section: the code (with a unified diff of each
dependency file that changed, read from the git objects the runs pinned), the command and params,
the environment and its packages, inputs and outputs by content hash, results, host and SLURM,
and the outcome.

    >>> d = Catalog().diff("1m8cj", "1m8ck")
    >>> d.identical, d["outputs"].identical, [c.key for c in d["params"].changes]
    (False, True, ['lr'])
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.errors import CatalogError, ConfigError, ProvenanceError
from bathos.models import Dependency, Run, unstructure

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog

SECTIONS = ("code", "command", "params", "environment", "inputs", "outputs", "results", "host",
            "outcome")
# A dependency above this size gets a note instead of a diff: reading and diffing it would take
# long, and nobody reads a diff that long.
MAX_DIFF_BYTES = 512 * 1024
_BINARY_PROBE = 8000  # as git: a NUL byte among the first 8,000 means binary
_CODE_KEYS = ("repo_root", "commit", "branch", "detached", "dirty", "snapshot")
_COMMAND_KEYS = ("project", "name", "script", "argv", "cwd", "tags", "parent_run_id")
_ENVIRONMENT_KEYS = ("python_executable", "python_version", "implementation", "platform")
_OUTCOME_KEYS = ("status", "exit_code", "signal", "error", "duration_s")
_RELEASE = re.compile(r"\d+(?:\.\d+)*")
_UNHASHED = "not hashed (above the hashing cap)"
_NOT_IN_GIT = ("its content is not in git (an untracked file left out of the snapshot, or a "
               "file outside the repository)")


@attrs.frozen
class ValueChange:
    """One value that differs: `a` in the first run, `b` in the second (None where absent), and
    for params, results and the duration `delta` = b - a when both are numbers (params given as
    text too)."""

    key: str
    a: Any
    b: Any
    delta: float | int | None = None


@attrs.frozen
class FileChange:
    """A file that differs by path: `state` is changed, only_a, only_b or unknown (not hashed:
    above the hashing cap). For code, `diff` is the unified diff from a to b, or `note` says
    why there is none (binary, too big, content not in git)."""

    path: str
    role: str
    state: str
    a_sha256: str | None = None
    b_sha256: str | None = None
    diff: str | None = None
    note: str | None = None


@attrs.frozen
class PackageChange:
    """A Python distribution that differs: `change` is added, removed, upgraded, downgraded or
    changed (the same version from another source, or versions that do not compare)."""

    name: str
    change: str
    a: str | None
    b: str | None
    a_source: str | None = None
    b_source: str | None = None


@attrs.frozen
class DiffSection:
    """What differs in one part of two runs (`name`: code, command, params, environment, inputs,
    outputs, results, host or outcome): values, files (with the paths of the files that are the
    same in `same_files`), packages, and a `note` for a difference that cannot be itemised (one
    run has no package list)."""

    name: str
    changes: tuple[ValueChange, ...] = ()
    files: tuple[FileChange, ...] = ()
    same_files: tuple[str, ...] = ()
    packages: tuple[PackageChange, ...] = ()
    note: str | None = None

    @property
    def identical(self) -> bool:
        """Nothing in this section differs."""
        return not (self.changes or self.files or self.packages or self.note)


@attrs.frozen
class RunDiff:
    """What differs between run `a` and run `b` (ids): one DiffSection per part, in the order
    code, command, params, environment, inputs, outputs, results, host, outcome; `d["outputs"]`
    is one of them."""

    a: str
    b: str
    sections: tuple[DiffSection, ...]

    def __getitem__(self, name: str) -> DiffSection:
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(f"no section {name!r} (the sections are {', '.join(SECTIONS)})")

    @property
    def identical(self) -> bool:
        """Nothing differs: the same run, or two that are alike in everything compared."""
        return all(s.identical for s in self.sections)

    @property
    def outputs_identical(self) -> bool:
        """Both runs wrote the same files with the same bytes (a rerun that reproduces)."""
        return self["outputs"].identical

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `a`, `b`, `identical`, then one object per section with `identical`,
        `changes`, `files`, `same_files`, `packages` and `note`."""
        data: dict[str, Any] = {"a": self.a, "b": self.b, "identical": self.identical}
        for section in self.sections:
            fields = attrs.asdict(section)
            del fields["name"]
            data[section.name] = {"identical": section.identical, **fields}
        return data


def diff_runs(catalog: Catalog, a: Run, b: Run) -> RunDiff:
    """What `Catalog.diff` returns."""
    return RunDiff(a.id, b.id, (
        _code(a, b),
        _values("command", _pick(a, _COMMAND_KEYS), _pick(b, _COMMAND_KEYS)),
        _values("params", a.params, b.params, deltas=True),
        _environment(catalog, a, b),
        _files("inputs", _inputs(a), _inputs(b)),
        outputs_section(a, b),
        _values("results", _flat(a.results), _flat(b.results), deltas=True),
        _values("host", _host(a), _host(b)),
        _values("outcome", _ending(a), _ending(b), deltas=("duration_s",)),
    ))


def _ending(run: Run) -> dict[str, Any]:
    """How the run ended, and the outcome its sidecar judged (its label)."""
    return {**_pick(run, _OUTCOME_KEYS), "outcome": run.outcome.label if run.outcome else None}


def _values(name: str, a: Mapping[str, Any], b: Mapping[str, Any],
            deltas: bool | tuple[str, ...] = False) -> DiffSection:
    return DiffSection(name, _changes(a, b, deltas))


# -- values -------------------------------------------------------------------------------------


def _changes(a: Mapping[str, Any], b: Mapping[str, Any],
             deltas: bool | tuple[str, ...] = False) -> tuple[ValueChange, ...]:
    """A ValueChange per key whose value differs (a key absent on one side is None there),
    with the difference of numbers for the keys `deltas` names (True: every key)."""
    keys = [*a, *(k for k in b if k not in a)]
    return tuple(
        ValueChange(k, a.get(k), b.get(k), _delta(a.get(k), b.get(k))
                    if deltas is True or (deltas and k in deltas) else None)
        for k in keys if not _same(a.get(k), b.get(k)))


def _same(a: Any, b: Any) -> bool:
    """Equal, and not a boolean equal to a number (`True == 1`)."""
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _delta(a: Any, b: Any) -> float | int | None:
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return None
    delta = y - x
    if not math.isfinite(delta):
        return None
    # 12 significant digits: 0.3 - 0.1 is 0.2, not 0.19999999999999998
    return float(f"{delta:.12g}") if isinstance(delta, float) else delta


def _number(value: Any) -> float | int | None:
    """A number, or the number a param's text spells (`"0.02"`, `"5"`); None otherwise."""
    if isinstance(value, str):
        from bathos.provenance.params import param_value

        value = param_value(value)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pick(obj: Any, keys: Sequence[str]) -> dict[str, Any]:
    """Those attributes of `obj` as JSON data (lists, not tuples); {} for None."""
    data = unstructure(obj) if obj is not None else {}
    return {k: data.get(k) for k in keys}


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: `{"eval": {"acc": 1}}` -> `eval.acc`."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _host(run: Run) -> dict[str, Any]:
    """Host and SLURM job, without the pid (which differs between any two runs)."""
    host = _flat({k: v for k, v in (unstructure(run.host) if run.host else {}).items()
                  if k != "pid"})
    return {**host, **_flat({"slurm": unstructure(run.slurm) if run.slurm else {}})}


# -- files --------------------------------------------------------------------------------------

# path -> (sha256, size): what a run recorded of a file it read or wrote.
Hashes = dict[str, tuple[str | None, int | None]]


def _inputs(run: Run) -> Hashes:
    return {d.path: (d.sha256, d.size) for d in run.dependencies if d.role == "input"}


def _files(name: str, a: Hashes, b: Hashes,
           roles: Mapping[str, str] | None = None) -> DiffSection:
    """The files of two runs compared by path and content hash."""
    role = name.removesuffix("s")
    same: list[str] = []
    files: list[FileChange] = []
    for path in [*a, *(p for p in b if p not in a)]:
        kind = (roles or {}).get(path, role)
        if path not in b:
            files.append(FileChange(path, kind, "only_a", a_sha256=a[path][0]))
        elif path not in a:
            files.append(FileChange(path, kind, "only_b", b_sha256=b[path][0]))
        else:
            (sha_a, size_a), (sha_b, size_b) = a[path], b[path]
            if sha_a is not None and sha_a == sha_b:
                same.append(path)
                continue
            unhashed = (sha_a is None or sha_b is None) and size_a == size_b
            files.append(FileChange(path, kind, "unknown" if unhashed else "changed", sha_a,
                                    sha_b, note=_UNHASHED if unhashed else None))
    return DiffSection(name, files=tuple(files), same_files=tuple(same))


def outputs_section(a: Run, b: Run) -> DiffSection:
    """The outputs of two runs lined up by where each was written (`bathos.rerun.output_key`: a
    run's own output directory counts as one place) and compared by content hash."""
    return _files("outputs", _outputs(a), _outputs(b))


def _outputs(run: Run) -> Hashes:
    from bathos.rerun import output_key

    return {output_key(run, o.path): (o.sha256, o.size) for o in run.outputs}


def _code(a: Run, b: Run) -> DiffSection:
    """Commit, branch, dirty tree and snapshot, and the script, modules and sidecar compared,
    with a unified diff of each that changed."""
    code_a = {d.path: d for d in a.dependencies if d.role != "input"}
    code_b = {d.path: d for d in b.dependencies if d.role != "input"}
    roles = {d.path: d.role for d in (*code_b.values(), *code_a.values())}
    compared = _files("code", {p: (d.sha256, d.size) for p, d in code_a.items()},
                      {p: (d.sha256, d.size) for p, d in code_b.items()}, roles)
    changed = [f.path for f in compared.files if f.state == "changed"]
    held_a = _contents(a, [code_a[p] for p in changed])
    held_b = _contents(b, [code_b[p] for p in changed])
    files = tuple(_with_diff(f, held_a.get(f.path), held_b.get(f.path)) for f in compared.files)
    return attrs.evolve(compared, changes=_changes(_pick(a.git, _CODE_KEYS),
                                                   _pick(b.git, _CODE_KEYS)), files=files)


def _with_diff(change: FileChange, a: str | bytes | None, b: str | bytes | None) -> FileChange:
    """`change` with the unified diff of its two contents, or a note saying why there is none
    (a str on either side is that side's reason)."""
    if change.state != "changed":
        return change
    notes = [f"{side}: {why}" for side, why in (("a", a), ("b", b)) if isinstance(why, str)]
    if notes:
        same = len(notes) == 2 and a == b
        return attrs.evolve(change, note=str(a) if same else "; ".join(notes))
    assert isinstance(a, bytes) and isinstance(b, bytes)
    text_a, text_b = _text(a), _text(b)
    if text_a is None or text_b is None:
        return attrs.evolve(change, note=f"binary file ({len(a)} -> {len(b)} bytes)")
    lines = list(difflib.unified_diff(text_a.splitlines(), text_b.splitlines(),
                                      f"a/{change.path}", f"b/{change.path}", lineterm=""))
    if not lines:
        return attrs.evolve(change, note="only the line endings (or the last newline) differ")
    return attrs.evolve(change, diff="\n".join(lines))


def _text(data: bytes) -> str | None:
    """The bytes as text, or None for a binary file (a NUL byte early on, or not UTF-8)."""
    if b"\0" in data[:_BINARY_PROBE]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _contents(run: Run, deps: Sequence[Dependency]) -> dict[str, bytes | str]:
    """path -> each file's bytes as the run read it, or the reason they cannot be shown."""
    found: dict[str, bytes | str] = {}
    wanted: dict[str, str] = {}
    for dep in deps:
        if dep.git_blob is None:
            found[dep.path] = "its content was not hashed whole (above the hashing cap)"
        elif dep.size is not None and dep.size > MAX_DIFF_BYTES:
            found[dep.path] = f"too big to show a diff ({dep.size:,} bytes)"
        else:
            wanted[dep.path] = dep.git_blob
    if wanted:
        blobs, why = _blobs(run, set(wanted.values()))
        found.update((path, blobs.get(blob, why or _NOT_IN_GIT)) for path, blob in wanted.items())
    return found


def _blobs(run: Run, ids: set[str]) -> tuple[dict[str, bytes], str | None]:
    """The blobs the run's repository holds (found through the project registry when it
    moved), or none and why."""
    from bathos.checker import locate_root
    from bathos.projects import read_registry
    from bathos.provenance.git import read_blobs

    if run.git is None:
        return {}, "the run recorded no git repository"
    try:
        root = locate_root(run.git.repo_root, run.project, True, read_registry())
        return read_blobs(Path(root or run.git.repo_root), ids), None
    except (ConfigError, ProvenanceError) as exc:
        return {}, str(exc)


# -- environment --------------------------------------------------------------------------------


def _environment(catalog: Catalog, a: Run, b: Run) -> DiffSection:
    """Interpreter, packages (added, removed, upgraded) and recorded variables; the packages
    fingerprint only when the lists do not show what changed (a lock file's hash)."""
    env_a, env_b = a.environment, b.environment
    values_a = {**_pick(env_a, _ENVIRONMENT_KEYS),
                **_flat({"variables": env_a.variables if env_a else {}})}
    values_b = {**_pick(env_b, _ENVIRONMENT_KEYS),
                **_flat({"variables": env_b.variables if env_b else {}})}
    packages, note = _packages(catalog, a, b)
    if not packages and not note:
        values_a["packages_fingerprint"] = env_a.packages_fingerprint if env_a else None
        values_b["packages_fingerprint"] = env_b.packages_fingerprint if env_b else None
    return DiffSection("environment", _changes(values_a, values_b), packages=packages,
                       note=note)


def _packages(catalog: Catalog, a: Run, b: Run) -> tuple[tuple[PackageChange, ...], str | None]:
    """The distributions that differ, or a note when one run's list is missing or unreadable."""
    ref_a = a.environment.packages_list if a.environment else None
    ref_b = b.environment.packages_list if b.environment else None
    if ref_a == ref_b:
        return (), None  # one blob per distinct environment: the same list
    missing = [run.id for run, ref in ((a, ref_a), (b, ref_b)) if ref is None]
    if missing:
        return (), (f"run {missing[0]} has no package list (it ran no Python, or was recorded "
                    "before bathos kept them)")
    try:
        listed_a, listed_b = (_by_name(catalog, run) for run in (a, b))
    except CatalogError as exc:
        return (), str(exc)
    changes = []
    for name in sorted(listed_a.keys() | listed_b.keys()):
        (ver_a, src_a), (ver_b, src_b) = listed_a.get(name, (None, None)), \
            listed_b.get(name, (None, None))
        if (ver_a, src_a) != (ver_b, src_b):
            changes.append(PackageChange(name, _how(name in listed_a, name in listed_b, ver_a,
                                                    ver_b), ver_a, ver_b, src_a, src_b))
    return tuple(changes), None


def _by_name(catalog: Catalog, run: Run) -> dict[str, tuple[str | None, str | None]]:
    return {p["name"]: (p["version"], p["source"]) for p in catalog.packages(run)}


def _how(in_a: bool, in_b: bool, a: str | None, b: str | None) -> str:
    if not in_a:
        return "added"
    if not in_b:
        return "removed"
    release_a, release_b = _release(a), _release(b)
    if release_a is None or release_b is None or release_a == release_b:
        return "changed"
    return "upgraded" if release_b > release_a else "downgraded"


def _release(version: str | None) -> tuple[int, ...] | None:
    """The release numbers a version starts with (`2.1.0rc1` -> (2, 1)), trailing zeros dropped
    so 2.1 and 2.1.0 compare equal; None when it starts with none."""
    found = _RELEASE.match(version or "")
    if found is None:
        return None
    numbers = [int(n) for n in found.group().split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)

