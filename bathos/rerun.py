"""Running a recorded run again as it was: from its pinned code (the commit, or the snapshot of a
dirty tree), with the same arguments, working directory, interpreter and recorded variables.

    rerun = Catalog().rerun("1m8cj3xf")      # in a temporary checkout of its code
    rerun.run.parent_run_id                  # the old run's id: the new one derives from it
    rerun.outputs.identical                  # every output has the old run's bytes

The checkout is a repository of its own in a temporary directory, borrowing the objects of the
run's repository, and is removed afterwards. What the new run wrote there is kept in the
repository under its output directory (`outputs/<id>/`): what it wrote in `$BTH_OUTPUT_DIR` at its
place there, everything else under `outputs/<id>/worktree/` at its path in the tree. Outputs are
compared by the path they were written at (`output_key`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bathos.diff import DiffSection, outputs_section
from bathos.errors import ConfigError
from bathos.fsutil import relative_posix
from bathos.models import Dependency, Output, Run, utcnow
from bathos.provenance.secrets import REDACTED

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.runner import ActiveRun

log = logging.getLogger("bathos.rerun")

RERUN_TAG = "rerun"
# Under a rerun's output directory: the files it wrote elsewhere in its temporary tree.
KEPT_TREE = "worktree"
OWN_OUTPUTS = "$BTH_OUTPUT_DIR"


@attrs.frozen
class Rerun:
    """A run made again: the new `run` (derived from `original`, tagged `rerun`), the exit code
    of its command, and how its outputs compare with the original's (`bth diff`'s outputs
    section: `outputs.identical` when every file has the original's bytes)."""

    run: Run
    original: Run
    exit_code: int
    outputs: DiffSection


def output_key(run: Run, path: str) -> str:
    """Where an output was written, comparable between runs: a path in the run's own output
    directory as `$BTH_OUTPUT_DIR/…`, a file a rerun kept from its tree at its path there."""
    parts = path.split("/")
    for i in range(1, len(parts) - 1):
        if parts[i] == run.id and parts[i - 1] == "outputs":
            rest = parts[i + 1:]
            if rest[0] == KEPT_TREE and RERUN_TAG in run.tags and len(rest) > 1:
                return "/".join(rest[1:])
            return "/".join((OWN_OUTPUTS, *rest))
    return path


def rerun(catalog: Catalog, run: str | Run, *, here: bool = False, tags: Sequence[str] = (),
          on_started: Callable[[Run], None] | None = None) -> Rerun:
    """Run `run` (a Run, an id or a prefix) again from its pinned code in a temporary tree, or
    with `here` in its repository as it is now, when the files the run depended on are unchanged
    there. ConfigError when it cannot be run again as it was."""
    old = run if isinstance(run, Run) else catalog.get(run)
    root, pinned = _pinned(old)
    if REDACTED in " ".join(old.argv):
        raise ConfigError(f"run {old.id} cannot be rerun: a secret was redacted from its "
                          "arguments")
    how = _How(old, root, _relative_cwd(old), _interpreter(old), _variables(old),
               (RERUN_TAG, *tags), on_started)
    if here:
        _check_here(old, root)
        return _run(catalog, how, root)
    with _temporary_tree(root, pinned, old.id) as tree:
        _fill(old, root, tree)
        return _run(catalog, how, tree)


@attrs.frozen
class _How:
    """How to run `old` again, wherever its tree is."""

    old: Run
    root: Path  # its repository
    relcwd: str  # its working directory, relative to the repository's root
    python: str | None
    environ: Mapping[str, str]
    tags: tuple[str, ...]
    on_started: Callable[[Run], None] | None


def _pinned(old: Run) -> tuple[Path, str]:
    """The run's repository, and the commit that holds its code (its snapshot when dirty)."""
    what = f"run {old.id} cannot be rerun"
    if old.git is None:
        raise ConfigError(f"{what}: it did not run in a git repository, so its code was not "
                          "pinned")
    pinned = old.git.snapshot or old.git.commit
    if pinned is None or (old.git.dirty and old.git.snapshot is None):
        kept = ("its tree had uncommitted changes and no snapshot of them was kept"
                if old.git.dirty else "its repository had no commit")
        raise ConfigError(f"{what}: {kept}")
    from bathos.checker import locate_root
    from bathos.projects import read_registry
    from bathos.provenance import git

    try:  # where it is today: the project registry finds a repository that moved
        root = Path(locate_root(old.git.repo_root, old.project, True, read_registry()) or "")
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}", hint=exc.hint) from None
    if not (root / ".git").exists():
        raise ConfigError(f"{what}: its repository {root} is gone (clone it there again)")
    if not git.has_commit(root, pinned):
        raise ConfigError(f"{what}: its pinned {'snapshot' if old.git.snapshot else 'commit'} "
                          f"{pinned[:12]} is missing from {root}")
    return root, pinned


def _relative_cwd(old: Run) -> str:
    """Where the run was started, relative to the root of its repository as it was then."""
    recorded = old.git.repo_root if old.git else ""
    relcwd = relative_posix(old.cwd or "", recorded) if old.cwd else None
    if relcwd is None:
        raise ConfigError(f"run {old.id} cannot be rerun: it was started outside its repository "
                          f"{recorded} (in {old.cwd})")
    return relcwd


def _interpreter(old: Run) -> str | None:
    """The interpreter a script ran with, still there; None for a command."""
    python = old.environment.python_executable if old.environment else None
    if not (old.script or "").endswith(".py") or python is None:
        return None
    if not os.access(python, os.X_OK):
        raise ConfigError(f"run {old.id} cannot be rerun: its interpreter {python} no longer "
                          "exists (recreate that environment)")
    return python


def _variables(old: Run) -> dict[str, str]:
    """Our environment with the run's recorded variables, but bathos's own (the new run sets
    them) and those recorded redacted, which keep their value here (one warning names them)."""
    recorded = old.environment.variables if old.environment else {}
    redacted = sorted(k for k, v in recorded.items() if REDACTED in v)
    if redacted:
        log.warning("recorded redacted, so left to the current environment: %s",
                    ", ".join(redacted))
    return {**os.environ, **{k: v for k, v in recorded.items()
                             if not k.startswith("BTH_") and k not in redacted}}


def _matches(path: Path, dep: Dependency) -> bool:
    """Whether `path` has the content `dep` recorded (only its presence, for a file recorded
    without a hash: above the hashing cap)."""
    from bathos.hashing import hash_file

    if dep.sha256 is None:
        return path.is_file()
    try:
        return hash_file(path).sha256 == dep.sha256
    except OSError:
        return False


def _differing(root: Path, deps: Sequence[Dependency]) -> list[str]:
    """The files among `deps` (inside the repository) that are not as the run read them."""
    return [d.path for d in deps if not _matches(root / d.path, d)]


def _is_inside(relpath: str) -> bool:
    """Whether a recorded path names a place in the repository (a record is untrusted input)."""
    return not os.path.isabs(relpath) and ".." not in relpath.split("/")


def _inside(old: Run, root: Path) -> list[Dependency]:
    """The files the run read inside its repository; those outside it are checked here, and
    one warning names those that changed since."""
    outside = [d.path for d in old.dependencies
               if not _is_inside(d.path) and not _matches(root / d.path, d)]
    if outside:
        log.warning("files outside the repository differ from what run %s read: %s", old.id,
                    ", ".join(outside[:10]))
    return [d for d in old.dependencies if _is_inside(d.path)]


def _check_here(old: Run, root: Path) -> None:
    differing = _differing(root, _inside(old, root))
    if differing:
        raise ConfigError(f"run {old.id} cannot be rerun in {root}: these files differ from what "
                          f"it read: {', '.join(differing[:10])}; rerun it from its pinned code "
                          "instead", hint="drop --here")


def _fill(old: Run, root: Path, tree: Path) -> None:
    """Copy into `tree` the files the run read that its pinned code lacks (git-ignored data, the
    outputs of earlier runs) from the repository, when they are as the run read them; and make
    the directories it wrote its outputs into, which git may not keep."""
    absent = [d for d in _inside(old, root) if not (tree / d.path).exists()]
    differing = _differing(root, absent)
    if differing:
        raise ConfigError(f"run {old.id} cannot be rerun: it read files its pinned code does not "
                          f"hold, and {root} lacks them or holds them changed: "
                          f"{', '.join(differing[:10])}")
    for dep in absent:
        (tree / dep.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / dep.path, tree / dep.path)
    for output in old.outputs:
        key = output_key(old, output.path)
        if _is_inside(key) and not key.startswith(OWN_OUTPUTS):
            with contextlib.suppress(OSError):  # a file of the tree stands there: let it be
                (tree / key).parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _temporary_tree(root: Path, commit: str, run_id: str) -> Iterator[Path]:
    """A checkout of `commit` in a temporary directory, removed afterwards (also on Ctrl-C)."""
    from bathos.provenance import git

    tree = Path(os.path.realpath(tempfile.mkdtemp(prefix=f"bth-rerun-{run_id[:8]}-")))
    try:
        git.check_out(root, commit, tree)
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _run(catalog: Catalog, how: _How, tree: Path) -> Rerun:
    """Run it in `tree` (a temporary checkout, or its repository itself)."""
    from bathos.runner import RunSpec, execute, start_run

    old, script = how.old, how.old.script or ""
    cwd = tree / how.relcwd
    cwd.mkdir(parents=True, exist_ok=True)  # a directory git does not keep (empty, ignored)
    program = next((d.path for d in old.dependencies if d.role == "script"), None)
    if script.endswith(".py") or (program and "/" in script and not os.path.isabs(script)):
        # A script, or a command named by a path inside the repository: the tree's file, not
        # ours (its dependency is recorded relative to the repository's root).
        target = str(tree / (program or script))
    elif "/" in script and not os.path.isabs(script):
        target = str(cwd / script)  # a command named by a path outside the repository
    else:
        target = script
    spec = RunSpec(
        target=target, args=old.argv, is_script=script.endswith(".py"), cwd=cwd,
        project=old.project, name=old.name, tags=how.tags, parent_run_id=old.id,
        python=how.python, catalog=catalog.path,
        no_sidecar=old.sidecar is not None and old.sidecar.mode == "bypassed",
        sidecar_required=old.sidecar is not None)
    active = start_run(spec, environ=how.environ)
    _warn_environment(catalog, old, active.run)
    outcome = execute(active, on_started=how.on_started, environ=how.environ)
    new = outcome.run if tree == how.root else _kept(active, how, tree)
    return Rerun(run=new, original=old, exit_code=outcome.exit_code,
                 outputs=outputs_section(old, new))


def _warn_environment(catalog: Catalog, old: Run, new: Run) -> None:
    """One warning each when the interpreter's version or packages are not the run's."""
    envs = [r.environment for r in (old, new)]
    versions = [e.python_version if e else None for e in envs]
    if None not in versions and versions[0] != versions[1]:
        log.warning("the interpreter is Python %s now; run %s had Python %s", versions[1],
                    old.id, versions[0])
    lists = [e.packages_list if e else None for e in envs]
    if None in lists or lists[0] == lists[1]:
        return
    before, after = ({(p["name"], p["version"]) for p in catalog.packages(r)} for r in (old, new))
    names = {name for name, _ in before ^ after}
    log.warning("%d package(s) differ from those run %s had installed", len(names), old.id,
                extra={"hint": f"bth diff {old.id[:12]} {new.id[:12]} shows which"})


def _kept(active: ActiveRun, how: _How, tree: Path) -> Run:
    """The new run as it is recorded: its files copied out of the temporary `tree` into the
    repository (see the module's docstring), and its record naming them there, with the old
    run's code version, working directory and script."""
    from bathos.catalog import store

    new, old = active.run, how.old
    own = relative_posix(active.output_dir, tree)
    outputs = tuple(_keep(o, own, how.root, tree) for o in new.outputs)
    git = attrs.evolve(old.git, repo_root=str(how.root)) if old.git else None
    recorded = attrs.evolve(new, git=git, cwd=str(how.root / how.relcwd), script=old.script,
                            outputs=outputs,
                            updated_at=utcnow())
    if active.unrecorded is None:
        store.write_run(active.catalog, recorded)
    return recorded


def _keep(output: Output, own: str | None, root: Path, tree: Path) -> Output:
    """Copy one output out of the tree; the output as recorded where it now lies."""
    if os.path.isabs(output.path) or own is None:
        return output
    inside = output.path.startswith(f"{own}/")
    path = output.path if inside else f"{own}/{KEPT_TREE}/{output.path}"
    with contextlib.suppress(OSError):  # gone since the run recorded it
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tree / output.path, root / path)
    return attrs.evolve(output, path=path)
