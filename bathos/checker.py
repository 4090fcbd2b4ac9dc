"""`check`: judge runs against today's files (or a revision) and report verdicts.

This is the I/O half of freshness: it reads the catalog, finds each run's repository (through the
project registry when it moved), learns today's content of every recorded file once, looks up the
commit behind each change, and hands the comparison to the pure `bathos.freshness`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos import freshness
from bathos.catalog import Catalog, RunQuery
from bathos.errors import ConfigError, ProvenanceError
from bathos.freshness import CurrentFile, RecordedFile, RecordedOutput, RecordedRun, Verdict

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger("bathos.check")

_COLUMNS = ("id", "project", "script", "started_at", "cwd", "git", "dependencies", "outputs",
            "parent_run_id")


@attrs.frozen
class CheckReport:
    """Verdicts for the runs asked about, newest first."""

    verdicts: tuple[Verdict, ...]
    against: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing shown is stale and no output changed."""
        return all(v.is_ok for v in self.verdicts)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(freshness.VERDICTS, 0)
        for v in self.verdicts:
            counts[v.verdict] += 1
        return counts

    def to_data(self) -> list[dict[str, Any]]:
        data = []
        for verdict in self.verdicts:
            row = attrs.asdict(verdict)
            row["started_at"] = (verdict.started_at.isoformat() + "Z"
                                 if verdict.started_at else None)
            data.append(row)
        return data

    def to_polars(self) -> pl.DataFrame:
        """One row per run; `reasons` and `outputs` are lists of structs."""
        import polars as pl

        reason = pl.Struct({"path": pl.String, "how": pl.String, "role": pl.String,
                            "detail": pl.String, "commit": pl.String})
        output = pl.Struct({"path": pl.String, "state": pl.String})
        return pl.DataFrame(
            [attrs.asdict(v) for v in self.verdicts],
            schema={"run_id": pl.String, "project": pl.String, "script": pl.String,
                    "started_at": pl.Datetime("us"), "verdict": pl.String,
                    "reasons": pl.List(reason), "outputs": pl.List(output)},
        )


class _Workspace:
    """Today's content of files, each learned once: from the git index when its stat matches,
    from the tree of `against` for files inside the repository, else by hashing the file."""

    def __init__(self, against: str | None) -> None:
        self.against = against
        self.files: dict[tuple[str, str | None], CurrentFile] = {}
        self._repos: dict[str, _Known] = {}

    def _repo(self, root: str) -> _Known:
        if root not in self._repos:
            from bathos.provenance import git

            index = git.index_blob_ids(Path(root))
            entries, trusted_before = index, _index_mtime(root)
            if self.against:
                try:
                    tree = git.tree_blob_ids(Path(root), self.against)
                except ProvenanceError as exc:  # a revision the user named: bad input
                    raise ConfigError(str(exc)) from exc
                entries = {p: (b, -1, -1) for p, b in tree.items()}
            self._repos[root] = _Known(entries, {entry[0]: p for p, entry in entries.items()},
                                       frozenset(index), trusted_before)
        return self._repos[root]

    def state(self, location: str, repo_root: str | None) -> CurrentFile:
        """The file as git knows it when `repo_root` is given, else as hashed from disk."""
        key = (location, repo_root)
        if key not in self.files:
            self.files[key] = self._learn(location, repo_root)
        return self.files[key]

    def _learn(self, location: str, repo_root: str | None) -> CurrentFile:
        from bathos.hashing import hash_file

        relpath = _inside(location, repo_root)
        if repo_root and relpath is not None:
            known = self._repo(repo_root)
            entry = known.entries.get(relpath)
            if self.against and entry:
                return CurrentFile(True, git_blob=entry[0])
            if self.against and relpath in known.tracked:
                return CurrentFile(False)  # tracked today, absent at the revision
            if entry and not self.against and entry[1] < known.trusted_before:
                try:
                    st = os.lstat(location)
                except OSError:
                    return CurrentFile(False)
                if (st.st_mtime_ns, st.st_size % 2**32) == (entry[1], entry[2]):
                    return CurrentFile(True, git_blob=entry[0])
        try:
            digest = hash_file(Path(location))
        except OSError:
            return CurrentFile(False)
        return CurrentFile(True, sha256=digest.sha256, git_blob=digest.git_blob)

    def renamed(self, blob: str | None, repo_root: str | None) -> str | None:
        if not blob or not repo_root:
            return None
        path = self._repo(repo_root).paths.get(blob)
        if path is None:
            return None
        return path if self.against or os.path.exists(os.path.join(repo_root, path)) else None


@attrs.frozen
class _Known:
    """What git knows of a repository: relpath -> (blob, mtime ns, size) from the index (or the
    tree of `against`, without stat), blob -> relpath, the paths in the index, and the index
    file's mtime: an entry stamped no earlier may hide an edit made in the same tick."""

    entries: dict[str, tuple[str, int, int]]
    paths: dict[str, str]
    tracked: frozenset[str]
    trusted_before: int


def _index_mtime(root: str) -> int:
    """The mtime (ns) of the repository's index file; 0, trusting no entry, if not found."""
    dot_git = os.path.join(root, ".git")
    try:
        if os.path.isfile(dot_git):  # a linked worktree or submodule: `gitdir: <path>`
            with open(dot_git, encoding="utf-8") as fh:
                dot_git = os.path.join(root, fh.read().strip().removeprefix("gitdir:").strip())
        return os.stat(os.path.join(dot_git, "index")).st_mtime_ns
    except OSError:
        return 0


def _inside(location: str, root: str | None) -> str | None:
    if not root:
        return None
    rel = os.path.relpath(location, root)
    return None if rel.startswith("..") else rel.replace(os.sep, "/")


def _locate_root(recorded: str | None, project: str, registry: dict[str, Path],
                 in_git: bool) -> str | None:
    """The run's repository (or working directory) today; the registry finds one that moved."""
    if recorded is None:
        return None
    if os.path.isdir(recorded):
        return recorded
    moved = registry.get(project)
    if moved is not None and moved.is_dir():
        from bathos.provenance.git import repo_root_of

        # The registry holds the project's root, which may lie below the repository's.
        return str((repo_root_of(moved) if in_git else None) or moved)
    raise ConfigError(
        f"the repository {recorded} of project {project!r} is gone (if it moved, run bth init in "
        "its new location so bathos can find it)"
    )


def _recorded(row: dict[str, Any], registry: dict[str, Path]) -> tuple[RecordedRun, str | None,
                                                                     bool]:
    """The run as freshness sees it, its root today, and whether that root is a git repo."""
    git = row["git"] or {}
    root = _locate_root(git.get("repo_root") or row["cwd"], row["project"], registry, bool(git))

    def where(path: str) -> str:
        return path if os.path.isabs(path) or root is None else os.path.join(root, path)

    deps = tuple(RecordedFile(d["path"], d["role"], where(d["path"]), d.get("sha256"),
                              d.get("git_blob")) for d in row["dependencies"] or ())
    outs = tuple(RecordedOutput(o["path"], where(o["path"]), o.get("sha256"), o.get("size"))
                 for o in row["outputs"] or ())
    unknown = None if deps else (
        "no git repository and no recorded files" if not git else "no dependencies were recorded")
    started = row["started_at"]
    run = RecordedRun(
        id=row["id"], project=row["project"], script=row["script"],
        started_at=dt.datetime.fromisoformat(started.rstrip("Z")) if started else None,
        dependencies=deps, outputs=outs, unknown_reason=unknown,
    )
    return run, root, bool(git)


def _load(catalog: Catalog, ids: Sequence[str]) -> list[dict[str, Any]]:
    placeholders = ", ".join("?" * len(ids))
    rows = catalog.query(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id IN ({placeholders}) "
                         "ORDER BY started_at DESC, id DESC", list(ids))
    return rows.to_data()


def _with_ancestors(catalog: Catalog, rows: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The rows plus every ancestor run, and each run's parents (explicit and inferred)."""
    from bathos.lineage import parent_edges

    by_id = {r["id"]: r for r in rows}
    parents: dict[str, list[str]] = {}
    frontier = set(by_id)
    while frontier:
        new: set[str] = set()
        for parent, child, _ in parent_edges(catalog, frontier):
            if parent not in parents.setdefault(child, []):
                parents[child].append(parent)
            if parent not in by_id:
                new.add(parent)
        for row in _load(catalog, sorted(new)) if new else []:
            by_id[row["id"]] = row
        frontier = {n for n in new if n in by_id}
    return list(by_id.values()), parents


def _changed_in(verdict: Verdict, root: str | None, recorded: RecordedRun, against: str | None,
                run_commit: str | None,
                cache: dict[tuple[str, str, str | None, str | None], str | None]) -> Verdict:
    """Name the commit since the run that last changed each modified or deleted file; a change
    no commit since the run explains is `uncommitted`."""
    from bathos.provenance import git

    if root is None or verdict.verdict != "stale":
        return verdict
    blobs = {d.path: d.git_blob for d in recorded.dependencies}
    reasons = []
    for reason in verdict.reasons:
        relpath = _inside(os.path.join(root, reason.path), root) if not os.path.isabs(
            reason.path) else _inside(reason.path, root)
        if reason.how in ("modified", "deleted") and relpath is not None:
            key = (root, relpath, blobs.get(reason.path), run_commit)
            if key not in cache:
                cache[key] = git.last_commit_touching(Path(root), relpath, key[2],
                                                      rev=against or "HEAD", after=run_commit)
            reason = attrs.evolve(reason, commit=cache[key],
                                  detail=reason.detail or ("" if cache[key] else "uncommitted"))
        reasons.append(reason)
    return attrs.evolve(verdict, reasons=tuple(reasons))


def check(
    catalog: Catalog | None = None,
    *,
    runs: Sequence[str] = (),
    project: str | None = None,
    since: str | dt.datetime | None = None,
    run_status: Sequence[str] = ("completed",),
    verdicts: Sequence[str] = (),
    against: str | None = None,
    check_outputs: bool = False,
) -> CheckReport:
    """Verdicts for the chosen runs (ids or prefixes in `runs`, else the filters), newest first.

    >>> bathos.check(project="particles", check_outputs=True).to_polars()
    """
    from bathos.projects import read_registry

    catalog = catalog or Catalog()
    unknown_verdicts = set(verdicts) - set(freshness.VERDICTS)
    if unknown_verdicts:
        raise ConfigError(f"unknown verdict {', '.join(sorted(unknown_verdicts))} (choose from "
                          f"{', '.join(freshness.VERDICTS)})")
    if runs:
        chosen = _load(catalog, [catalog.resolve(r) for r in runs])
    else:
        query = RunQuery(project=project, since=since, status=list(run_status) or None)
        sql, args = query.to_sql(_COLUMNS)
        chosen = catalog.query(sql, args).to_data()
    rows, parents = _with_ancestors(catalog, chosen) if chosen else ([], {})
    registry = read_registry()
    workspace = _Workspace(against)
    judged: dict[str, Verdict] = {}
    parent_ids = {p for ps in parents.values() for p in ps}
    history: dict[tuple[str, str, str | None, str | None], str | None] = {}
    for row in rows:
        recorded, root, in_git = _recorded(row, registry)
        repo = root if in_git else None
        files = {d.location: _current(workspace, d, repo) for d in recorded.dependencies}
        want_outputs = check_outputs or row["id"] in parent_ids  # children read them
        outputs = {o.location: workspace.state(o.location, None) for o in recorded.outputs} \
            if want_outputs else None
        verdict = freshness.judge_run(recorded, files, outputs)
        commit = (row["git"] or {}).get("commit")
        judged[row["id"]] = _changed_in(verdict, repo, recorded, against, commit, history)
    settled = freshness.settle_upstream(judged, parents)
    shown = [settled[r["id"]] for r in chosen]
    if verdicts:
        shown = [v for v in shown if v.verdict in verdicts]
    if not check_outputs:
        shown = [attrs.evolve(v, outputs=()) for v in shown]
    return CheckReport(tuple(shown), against)


def _current(workspace: _Workspace, dep: RecordedFile, repo: str | None) -> CurrentFile:
    now = workspace.state(dep.location, repo)
    if now.exists and now.sha256 is None and not workspace.against \
            and now.git_blob != dep.git_blob:
        # The index holds what git stores (a link's target, normalised line ends, an LFS
        # pointer), not always the bytes the run read: only the content itself can say.
        now = workspace.state(dep.location, None)
    if not now.exists:
        renamed = workspace.renamed(dep.git_blob, repo)
        if renamed:
            return attrs.evolve(now, renamed_to=renamed)
    return now


@attrs.frozen
class Provenance:
    """Which run produced a file, how it was matched, and that run's verdict."""

    path: str
    run_id: str | None
    matched_by: str | None = None
    recorded_path: str | None = None
    verdict: Verdict | None = None

    @property
    def state(self) -> str | None:
        """This file's own state: found by content, it is what the run wrote; found by its
        recorded path, it is that output's check (ok, modified or unverified)."""
        if self.verdict is None:
            return None
        if self.matched_by == "content":
            return "ok"
        return next((o.state for o in self.verdict.outputs if o.path == self.recorded_path), "ok")

    @property
    def is_ok(self) -> bool:
        """The producing run is fresh (or unknown) and this file is unchanged since it wrote it."""
        return self.verdict is not None and self.verdict.verdict in ("fresh", "unknown") \
            and self.state != "modified"


def trace_file(path: Path, catalog: Catalog | None = None, *,
               against: str | None = None) -> Provenance:
    """The newest run that produced `path` (by recorded path, else by content hash) and its verdict.

    A path outside every git repository and registered project is a ConfigError.
    """
    from bathos.hashing import hash_file
    from bathos.projects import read_registry
    from bathos.provenance.git import repo_root_of

    catalog = catalog or Catalog()
    target = path.resolve()
    if not target.is_file():
        raise ConfigError(f"{path} is not a file (give the path of a result file)")
    root = repo_root_of(target) or next(
        (p for p in read_registry().values() if target.is_relative_to(p.resolve())), None)
    if root is None:
        raise ConfigError(f"{path} is outside every git repository and bathos project "
                          "(give a file inside a project, or run bth init there)")
    relpath = target.relative_to(root.resolve()).as_posix()
    digest = hash_file(target)
    rows = catalog.query(
        "SELECT run_id, path, (path = ? OR path = ?) AS by_path FROM outputs "
        "WHERE path = ? OR path = ? OR sha256 = ? ORDER BY by_path DESC, started_at DESC LIMIT 1",
        [relpath, str(target), relpath, str(target), digest.sha256],
    ).rows
    if not rows:
        return Provenance(path=str(path), run_id=None)
    run_id, recorded_path, by_path = rows[0]
    report = check(catalog, runs=[run_id], run_status=(), against=against, check_outputs=True)
    return Provenance(path=str(path), run_id=run_id, matched_by="path" if by_path else "content",
                      recorded_path=recorded_path, verdict=report.verdicts[0])

