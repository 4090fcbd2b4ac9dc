"""`check`: judge runs against today's files (or a revision) and report verdicts.

This is the I/O half of freshness: it reads the catalog, finds each run's repository (through the
project registry when it moved), learns today's content of every recorded file once, looks up the
commit behind each change, and hands the comparison to the pure `bathos.freshness`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos import freshness
from bathos.config import find_project_file
from bathos.errors import ConfigError, ProvenanceError, RunNotFound
from bathos.freshness import (
    CurrentFile,
    Reason,
    RecordedFile,
    RecordedOutput,
    RecordedRun,
    Verdict,
)
from bathos.fsutil import relative_posix
from bathos.ids import is_run_id
from bathos.query import RunQuery, naive_utc
from bathos.timespec import iso_utc

if TYPE_CHECKING:
    import polars as pl

    from bathos.catalog.catalog import Catalog
    from bathos.models import Run
    from bathos.provenance.git import History

log = logging.getLogger("bathos.check")

# The parts of each run a check reads; JSON ones taken from `record` in one pass, not four.
_PARTS = ("cwd", "git", "dependencies", "outputs")
_COLUMNS = ("id", "project", "script", "started_at", "parent_run_id",
            f"json_extract(record, [{', '.join(repr('$.' + p) for p in _PARTS)}])")


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
        """How many runs got each verdict (every verdict named, 0 for none)."""
        counts = dict.fromkeys(freshness.VERDICTS, 0)
        for v in self.verdicts:
            counts[v.verdict] += 1
        return counts

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-ready: one dict per verdict, its fields in order, `started_at` ISO-8601 UTC."""
        return [
            {"run_id": v.run_id, "project": v.project, "script": v.script,
             "started_at": iso_utc(v.started_at) if v.started_at else None,
             "verdict": v.verdict,
             "reasons": [{"path": r.path, "how": r.how, "role": r.role, "detail": r.detail,
                          "commit": r.commit} for r in v.reasons],
             "outputs": [{"path": o.path, "state": o.state} for o in v.outputs]}
            for v in self.verdicts
        ]

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
    """Today's content of files, each learned once: from the git index when its stat matches
    (and the entry is not racy), from the tree of `against` for files inside the repository,
    else by hashing the file."""

    def __init__(self, against: str | None) -> None:
        self.against = against
        self.files: dict[tuple[str, str | None], CurrentFile] = {}
        self._current: dict[tuple[str, str | None, str | None], CurrentFile] = {}
        self._today: dict[tuple[str | None, ...], dict[str, CurrentFile]] = {}
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

    def today(self, key: tuple[str | None, ...], deps: tuple[RecordedFile, ...],
              repo: str | None) -> dict[str, CurrentFile]:
        """Each dependency today by location, learned once per `key` (the recorded JSON text
        and where it was read from: runs that recorded the same files share one answer)."""
        if key not in self._today:
            self._today[key] = {d.location: self.current(d, repo) for d in deps}
        return self._today[key]

    def current(self, dep: RecordedFile, repo: str | None) -> CurrentFile:
        """A dependency today, renamed_to set when it is gone but its content lives elsewhere."""
        key = (dep.location, repo, dep.git_blob)
        if key not in self._current:
            self._current[key] = self._compared(dep, repo)
        return self._current[key]

    def _compared(self, dep: RecordedFile, repo: str | None) -> CurrentFile:
        now = self.state(dep.location, repo)
        if now.exists and now.sha256 is None and not self.against \
                and now.git_blob != dep.git_blob:
            # The index holds what git stores (a link's target, normalised line ends, an LFS
            # pointer), not always the bytes the run read: only the content itself can say.
            now = self.state(dep.location, None)
        if not now.exists:
            renamed = self.renamed(dep.git_blob, repo)
            if renamed:
                return attrs.evolve(now, renamed_to=renamed)
        return now

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
    prefix = os.path.join(root, "")
    if location.startswith(prefix) and os.sep + "." not in location:  # normalised: no relpath
        return location[len(prefix):].replace(os.sep, "/")
    rel = os.path.relpath(location, root)
    return None if rel.startswith("..") else rel.replace(os.sep, "/")


class _Records:
    """Catalog rows as freshness sees them. Each run's root is located once per recorded root,
    and the files many runs recorded alike become one shared tuple of RecordedFile."""

    def __init__(self) -> None:
        from bathos.projects import read_registry

        self.registry = read_registry()
        self._roots: dict[tuple[str | None, str, bool], str | None] = {}
        self._deps: dict[tuple[str | None, str | None], tuple[RecordedFile, ...]] = {}

    def recorded(self, row: dict[str, Any]) -> tuple[RecordedRun, str | None, bool]:
        """The run as freshness sees it, its root today, and whether that root is a git repo."""
        git = row["git"] or {}
        key = (git.get("repo_root") or row["cwd"], row["project"], bool(git))
        if key not in self._roots:
            self._roots[key] = locate_root(*key, self.registry)
        root = self._roots[key]
        deps = self._dependencies(row["dependencies"], root)
        outs = tuple(RecordedOutput(o["path"], _where(o["path"], root), o.get("sha256"),
                                    o.get("size")) for o in row["outputs"] or ())
        unknown = None if deps else (
            "no git repository and no recorded files" if not git
            else "no dependencies were recorded")
        run = RecordedRun(id=row["id"], project=row["project"], script=row["script"],
                          started_at=row["started_at"], dependencies=deps, outputs=outs,
                          unknown_reason=unknown)
        return run, root, bool(git)

    def _dependencies(self, text: str | None, root: str | None) -> tuple[RecordedFile, ...]:
        """The recorded files of a run from their JSON text, each distinct (text, root) once."""
        key = (text, root)
        if key not in self._deps:
            self._deps[key] = tuple(
                RecordedFile(d["path"], d["role"], _where(d["path"], root), d.get("sha256"),
                             d.get("git_blob")) for d in (json.loads(text) if text else ()))
        return self._deps[key]


def _where(path: str, root: str | None) -> str:
    """Where a recorded path is today: relative ones lie under the run's root."""
    return path if root is None or path.startswith(os.sep) else f"{root}{os.sep}{path}"


def locate_root(recorded: str | None, project: str, in_git: bool,
                 registry: dict[str, Path]) -> str | None:
    """The run's repository (or working directory) today; the registry finds one that moved."""
    if recorded is None:
        return None
    if os.path.isdir(recorded):
        if in_git:
            return recorded
        # Without git, `bth run` records paths relative to the project's root, which may lie
        # above the directory the run was started in.
        found = find_project_file(Path(recorded))
        return str(found.parent) if found else recorded
    moved = registry.get(project)
    if moved is not None and moved.is_dir():
        from bathos.provenance.git import repo_root_of

        # The registry holds the project's root, which may lie below the repository's.
        return str((repo_root_of(moved) if in_git else None) or moved)
    raise ConfigError(
        f"the repository {recorded} of project {project!r} is gone",
        hint="if it moved, run bth init in its new location so bathos can find it")


def _select(catalog: Catalog, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of `_COLUMNS` as dicts. Runs of one commit, or of one script at one commit, record
    the same JSON text: each distinct text is parsed once, and the rows share the result. The
    dependencies stay text: `_Records` turns each distinct one into recorded files once."""
    parsed: dict[str | None, Any] = {None: None}
    rows = []
    for *values, parts in catalog._fetch(sql, args).tuples():
        row = dict(zip(_COLUMNS[:-1], values, strict=True))
        for name, text in zip(_PARTS, parts, strict=True):
            if name != "dependencies" and text not in parsed:
                parsed[text] = json.loads(text)
            row[name] = text if name == "dependencies" else parsed[text]
        rows.append(row)
    return rows


def _load(catalog: Catalog, ids: Sequence[str]) -> list[dict[str, Any]]:
    return _select(catalog, f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id IN "
                   "(SELECT unnest(?::VARCHAR[])) ORDER BY started_at DESC, id DESC",
                   [list(ids)])


def _with_ancestors(catalog: Catalog, rows: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The rows plus every ancestor run, and each run's parents (explicit and inferred)."""
    from bathos.lineage import parent_edges

    by_id = {r["id"]: r for r in rows}
    parents: dict[str, list[str]] = {}
    frontier = rows
    while frontier:
        new: set[str] = set()
        for parent, child, _ in parent_edges(catalog, {r["id"] for r in frontier}):
            if parent not in parents.setdefault(child, []):
                parents[child].append(parent)
            if parent not in by_id:
                new.add(parent)
        frontier = _load(catalog, sorted(new)) if new else []
        by_id.update((r["id"], r) for r in frontier)
    return list(by_id.values()), parents


class _History:
    """What made each file differ from the version a run used, each (file, version, run
    commit) worked out once: the first commit since the run to hold something else, an
    uncommitted edit, a file git does not keep, or a revision that never held the run's version.
    """

    def __init__(self, against: str | None) -> None:
        self.against = against
        self.rev = against or "HEAD"
        self._histories: dict[str, History | None] = {}
        self._found: dict[tuple[str, str, str | None, str | None, str | None],
                          tuple[str | None, str]] = {}

    def changed_in(self, verdict: Verdict, root: str | None, recorded: RecordedRun,
                   run_commit: str | None, files: Mapping[str, CurrentFile]) -> Verdict:
        """Say, for each modified or deleted file in the repository, which change made it so;
        `files` are the run's dependencies today, by location."""
        if root is None or verdict.verdict != "stale":
            return verdict
        blobs = {d.path: d.git_blob for d in recorded.dependencies}
        reasons = []
        for reason in verdict.reasons:
            location = _where(reason.path, root)
            if reason.how in ("modified", "deleted") and _inside(location, root) is not None:
                now = files.get(location)
                key = (root, location, blobs.get(reason.path), run_commit,
                       now.git_blob if now else None)
                if key not in self._found:
                    self._found[key] = self._explain(*key)
                commit, detail = self._found[key]
                reason = Reason(reason.path, reason.how, reason.role, detail, commit)
            reasons.append(reason)
        return attrs.evolve(verdict, reasons=tuple(reasons))

    def _explain(self, root: str, location: str, blob: str | None, run_commit: str | None,
                 today: str | None) -> tuple[str | None, str]:
        """(the commit that made the file differ, or None; what else to say), from the blob the
        run used and the blob the file has `today`."""
        history = self._history(root)
        # A link is judged by the file it points to: that file's history is the one to read.
        relpath = _inside(os.path.realpath(location), os.path.realpath(root)) \
            or _inside(location, root)
        if history is None or relpath is None:
            return None, ""
        blob = blob.removeprefix("sha1:") if blob else None
        now = history.blob_at(relpath)
        if now is not None and (self.against or today == now):
            state = "clean"  # at the revision; or in the working tree, as HEAD holds it
        else:
            state = history.worktree_state(relpath)
        edited = state == "uncommitted" and not self.against
        change = history.first_change(relpath, run_commit, blob) if now != blob else None
        if change is not None:
            commit, later = change
            notes = [f"and {later} later commit{'s' if later > 1 else ''}"] if later else []
            return commit, ", ".join([*notes, *(["and uncommitted edits"] if edited else [])])
        if state in ("ignored", "untracked"):
            return None, "git-ignored" if state == "ignored" else "untracked"
        if edited or now == blob:
            return None, "uncommitted"
        if now is None:
            held = f"not in {self.rev}"
        else:
            where = "now" if not self.against else f"in {self.against}"
            commit = history.last_change(relpath) or history.tip or ""
            held = f"{where} as committed in {commit[:10]}"
        if run_commit is None or history.blob_at(relpath, run_commit) != blob:
            return None, f"differs from the run's uncommitted edit, {held}"
        detail = held if now is None else f"differs in {self.rev}"
        if not history.contains(run_commit):
            detail += f", which does not contain the run's commit {run_commit[:10]}"
        return None, detail

    def _history(self, root: str) -> History | None:
        """The repository's history up to the revision; None when it cannot be read."""
        if root not in self._histories:
            from bathos.provenance import git

            try:
                self._histories[root] = git.History(Path(root), self.rev)
            except ProvenanceError:
                self._histories[root] = None
        return self._histories[root]


def judge(catalog: Catalog, runs: Sequence[str], query: RunQuery, *, verdicts: Sequence[str],
          against: str | None, check_outputs: bool) -> CheckReport:
    """What `Catalog.check` returns: verdicts for the runs `runs` (ids or prefixes), else for
    those `query` matches, newest first."""
    unknown_verdicts = set(verdicts) - set(freshness.VERDICTS)
    if unknown_verdicts:
        raise ConfigError(f"unknown verdict {', '.join(sorted(unknown_verdicts))} (choose from "
                          f"{', '.join(freshness.VERDICTS)})")
    if runs:  # whole ids are looked up together, prefixes one by one
        ids = [r if is_run_id(r) else catalog.resolve(r) for r in runs]
        chosen = _load(catalog, ids)
        missing = sorted(set(ids) - {row["id"] for row in chosen})
        if missing:
            raise RunNotFound(missing[0], str(catalog.path))
    else:
        chosen = _select(catalog, *query.to_sql(_COLUMNS))
    rows, parents = _with_ancestors(catalog, chosen) if chosen else ([], {})
    records, workspace, history = _Records(), _Workspace(against), _History(against)
    judged: dict[str, Verdict] = {}
    parent_ids = {p for ps in parents.values() for p in ps}
    for row in rows:
        recorded, root, in_git = records.recorded(row)
        repo = root if in_git else None
        files = workspace.today((row["dependencies"], root, repo), recorded.dependencies, repo)
        want_outputs = check_outputs or row["id"] in parent_ids  # children read them
        outputs = {o.location: workspace.state(o.location, None) for o in recorded.outputs} \
            if want_outputs else None
        verdict = freshness.judge_run(recorded, files, outputs)
        judged[row["id"]] = history.changed_in(verdict, repo, recorded,
                                               (row["git"] or {}).get("commit"), files)
    settled = freshness.settle_upstream(judged, parents)
    shown = [settled[r["id"]] for r in chosen]
    if verdicts:
        shown = [v for v in shown if v.verdict in verdicts]
    if not check_outputs:
        shown = [attrs.evolve(v, outputs=()) if v.outputs else v for v in shown]
    return CheckReport(tuple(shown), against)


@attrs.frozen
class FileOrigin:
    """Which run produced a file (`run_id`, None when no recorded run did), how it was matched
    (`matched_by`: "path" or "content"), and that run's verdict."""

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


def producer_of(catalog: Catalog, path: Path, *, against: str | None) -> FileOrigin:
    """What `Catalog.producer_of` returns."""
    from bathos.hashing import hash_file
    from bathos.projects import read_registry
    from bathos.provenance.git import repo_root_of

    target = path.resolve()
    if not target.is_file():
        raise ConfigError(f"{path} is not a file (give the path of a result file)")
    root = repo_root_of(target) or next(
        (p for p in read_registry().values() if target.is_relative_to(p.resolve())), None)
    if root is None:
        raise ConfigError(f"{path} is outside every git repository and bathos project",
                          hint="give a file inside a project, or run bth init there")
    relpath = relative_posix(target, root.resolve()) or target.as_posix()
    digest = hash_file(target)
    # The run that last wrote these bytes here; else the last that wrote here (the file changed
    # since); else the last that wrote these bytes anywhere (the file moved).
    rows = catalog._fetch(
        "SELECT run_id, path, path IN (?, ?) AS by_path FROM outputs "
        "WHERE path IN (?, ?) OR sha256 = ? "
        "ORDER BY by_path DESC, sha256 IS NOT DISTINCT FROM ? DESC, started_at DESC LIMIT 1",
        [relpath, str(target), relpath, str(target), digest.sha256, digest.sha256],
    ).tuples()
    if not rows:
        return FileOrigin(path=str(path), run_id=None)
    run_id, recorded_path, by_path = rows[0]
    report = judge(catalog, [run_id], RunQuery(), verdicts=(), against=against,
                   check_outputs=True)
    return FileOrigin(path=str(path), run_id=run_id, matched_by="path" if by_path else "content",
                      recorded_path=recorded_path, verdict=report.verdicts[0])


def tracked_changes(catalog: Catalog, run: Run) -> dict[str, str | None]:
    """What `Catalog.tracked_changes` returns."""
    from bathos.hashing import hash_bytes
    from bathos.provenance import git

    info = run.git
    if info is None or not info.dirty or info.snapshot is None or info.commit is None:
        return {}
    try:
        changed = git.snapshot_changes(Path(info.repo_root), info.commit, info.snapshot)
    except ProvenanceError:
        return {}  # the repository is gone or moved: nothing to tell
    if not changed:
        return {}  # only untracked files made it dirty
    wanted = {(path, hash_bytes(data)[0]) for path, data in changed.items() if data is not None}
    writers: dict[str, str | None] = dict.fromkeys(sorted(changed))
    rows = catalog._fetch(
        "SELECT path, sha256, run_id FROM outputs WHERE started_at < ? AND path IN "
        "(SELECT unnest(?::VARCHAR[])) ORDER BY started_at DESC",
        [naive_utc(run.started_at), sorted(changed)]).tuples()
    for path, sha256, run_id in rows:
        if writers[path] is None and (path, sha256) in wanted:
            writers[path] = run_id
    return writers
