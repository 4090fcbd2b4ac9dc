"""Git provenance: the commit a run used, pinned so history rewrites cannot lose it, and a snapshot
commit of a dirty working tree. The only module in bathos that imports pygit2.

Everything is written as git objects plus refs under `refs/bathos/`; the user's index, working tree,
HEAD and reflogs are never touched.

    >>> capture_git(Path("train.py"))  # doctest: +SKIP
    Git(repo_root='/home/me/proj', commit='3f2a…', branch='main', dirty=True, snapshot='9c1e…', …)
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import pygit2
from pygit2.enums import (
    CheckoutStrategy,
    DeltaStatus,
    FileMode,
    FileStatus,
    ReferenceType,
    SortMode,
)

from bathos.errors import ProvenanceError
from bathos.models import Git
from bathos.provenance.secrets import is_secret_file

log = logging.getLogger("bathos.provenance")

COMMITS_REF_PREFIX = "refs/bathos/commits/"
SNAPSHOTS_REF_PREFIX = "refs/bathos/snapshots/"
DEFAULT_UNTRACKED_CAP_BYTES = 20 * 1024 * 1024

# Everything pygit2 raises: its own GitError family plus the builtins libgit2 errors map to.
_PYGIT2_ERRORS = (pygit2.GitError, KeyError, ValueError, OSError)
_TRACKED_CHANGE = (
    FileStatus.INDEX_NEW
    | FileStatus.INDEX_MODIFIED
    | FileStatus.INDEX_DELETED
    | FileStatus.INDEX_RENAMED
    | FileStatus.INDEX_TYPECHANGE
    | FileStatus.WT_MODIFIED
    | FileStatus.WT_DELETED
    | FileStatus.WT_TYPECHANGE
    | FileStatus.WT_RENAMED
    | FileStatus.CONFLICTED
)
_REF_ATTEMPTS = 30  # 2 ms more after each: 0.93 s of waiting in all for another writer's lock
_SKIPPED_SHOWN = 20
# A record lists at most this many untracked paths (and counts them all): a tree of generated
# files may hold tens of thousands, and every name listed makes every record bigger.
MAX_UNTRACKED_LISTED = 1000


def capture_git(
    path: Path, *, untracked_cap_bytes: int = DEFAULT_UNTRACKED_CAP_BYTES,
    secret_files: Sequence[str] = (),
) -> Git | None:
    """The git state of the repository containing `path` (a script or directory), or None outside
    git. Pins HEAD under `refs/bathos/commits/` and, when the tree is dirty, records a snapshot
    commit of the working tree under `refs/bathos/snapshots/<tree-id>`. Untracked files that
    look secret (`secrets.SECRET_FILES`, or globs in `secret_files`) stay out of the snapshot.
    """
    repo = _discover(path, warn_bare=True)
    if repo is None:
        return None
    root = _workdir(repo)
    with _translated(f"cannot capture the git state of {root}", root):
        return _capture(repo, root, untracked_cap_bytes, secret_files)


def repo_root_of(path: Path) -> Path | None:
    """The working directory of the repository containing `path`, or None outside git."""
    repo = _discover(path)
    return None if repo is None else Path(_workdir(repo))


def index_blob_ids(repo_root: Path) -> dict[str, tuple[str, int, int]]:
    """Each file in the index: relpath -> (blob sha1 hex, mtime in ns, size), as git stored them.

    A caller may trust the blob id without reading the file when `os.lstat` gives the same
    `st_mtime_ns` and `st_size` (size is stored modulo 2**32; an mtime not older than the index file
    itself is "racy" and should not be trusted). Submodules and conflicted entries are left out.
    """
    # pygit2's IndexEntry hides the stat fields the index keeps, and its public comparisons with
    # the working tree (status, diff_to_workdir) stat every tracked file where a check needs only
    # the files its runs read. Its cffi layer is private: pyproject.toml pins the pygit2 releases
    # this was tested with, and test_index_blob_ids_gives_what_the_index_stored guards the layout.
    from pygit2.ffi import C, ffi

    repo = _open(repo_root)
    with _translated(f"cannot read the git index of {repo_root}", str(repo_root)):
        index = repo.index
        handle = index._index
        entries: dict[str, tuple[str, int, int]] = {}
        for n in range(C.git_index_entrycount(handle)):
            entry = C.git_index_get_byindex(handle, n)
            stage = (entry.flags >> 12) & 0x3
            if stage or entry.mode == FileMode.COMMIT:
                continue
            relpath = os.fsdecode(ffi.string(entry.path))
            blob = pygit2.Oid(raw=bytes(ffi.buffer(ffi.addressof(entry, "id"))[:20]))
            mtime_ns = entry.mtime.seconds * 1_000_000_000 + entry.mtime.nanoseconds
            entries[relpath] = (str(blob), int(mtime_ns), int(entry.file_size))
        return entries


def tree_blob_ids(repo_root: Path, rev: str) -> dict[str, str]:
    """Every file at commit, branch or tag `rev`: relpath -> blob id (hex)."""
    repo = _open(repo_root)
    with _translated(f"cannot read the tree of {rev} in {repo_root}", str(repo_root)):
        return dict(_tree_blobs(_resolve_commit(repo, rev).tree))


def snapshot_changes(repo_root: Path, commit: str, snapshot: str) -> dict[str, bytes | None]:
    """The files tracked at `commit` that its `snapshot` (of a dirty tree) holds changed:
    relpath -> their content in the snapshot, None when deleted. Untracked files it added are
    left out."""
    repo = _open(repo_root)
    with _translated(f"cannot compare {snapshot} with {commit} in {repo_root}", str(repo_root)):
        diff = _resolve_commit(repo, commit).tree.diff_to_tree(_resolve_commit(repo, snapshot).tree)
        return {d.old_file.path: None if d.status == DeltaStatus.DELETED else
                repo[d.new_file.id].read_raw() for d in diff.deltas
                if d.status != DeltaStatus.ADDED}


def read_blobs(repo_root: Path, blob_ids: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob (by id, as a run's dependencies record them) the repository
    holds; the ids it lacks (a file left out of every commit and snapshot) are left out."""
    repo = _open(repo_root)
    found: dict[str, bytes] = {}
    with _translated(f"cannot read files from the git objects of {repo_root}", str(repo_root)):
        for blob_id in blob_ids:
            try:
                blob = repo.get(blob_id)
            except _PYGIT2_ERRORS:
                continue  # not an object id
            if isinstance(blob, pygit2.Blob):
                found[blob_id] = blob.data
    return found


def has_commit(repo_root: Path, commit: str) -> bool:
    """Whether the repository at `repo_root` holds the commit `commit` (a full id)."""
    repo = _open(repo_root)
    try:
        return isinstance(repo.get(commit), pygit2.Commit)
    except _PYGIT2_ERRORS:
        return False


def check_out(repo_root: Path, commit: str, directory: Path) -> None:
    """Check `commit` out into the empty `directory`, made a repository of its own that borrows
    the objects of `repo_root` (git's alternates), with its HEAD detached at `commit` and a clean
    index: nothing in `repo_root` is written, and removing `directory` leaves no trace."""
    source = _open(repo_root)
    gitdir = Path(source.path)
    common = gitdir / "commondir"  # a linked worktree keeps its objects in the main git dir
    if common.is_file():
        gitdir = (gitdir / common.read_text().strip()).resolve()
    with _translated(f"cannot check out {commit} of {repo_root} into {directory}", str(repo_root)):
        pygit2.init_repository(str(directory))
        (directory / ".git" / "objects" / "info" / "alternates").write_text(
            f"{gitdir / 'objects'}\n")
        repo = pygit2.Repository(str(directory))
        target = _resolve_commit(repo, commit)
        repo.set_head(target.id)
        repo.checkout_tree(target.tree, strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]
        repo.index.read_tree(target.tree)
        repo.index.write()


class History:
    """A repository's history up to `rev`, read once: which commits changed a path since a given
    run's commit (counting only commits that commit does not already contain), and how a path
    stands in the working tree.

    One tree diff per commit (in libgit2) and an ancestor bitset per commit, so a check of
    thousands of runs asks it thousands of questions for the price of one walk.
    """

    def __init__(self, repo_root: Path, rev: str = "HEAD", max_commits: int = 5000) -> None:
        self._repo = repo = _open(repo_root)
        self._root = str(repo_root)
        self._commits: list[pygit2.Commit] = []
        self._position: dict[str, int] = {}
        self._ancestors: list[int] = []
        self._changes: dict[str, list[int]] = {}
        self._tip: pygit2.Commit | None = None
        self._states: dict[str, str] = {}
        self._met: dict[str, int | None] = {}
        with _translated(f"cannot walk the history of {repo_root}", self._root):
            if repo.head_is_unborn and rev == "HEAD":
                return
            self._tip = _resolve_commit(repo, rev)
            walker = repo.walk(self._tip.id, SortMode.TOPOLOGICAL | SortMode.TIME)
            self._read([c for _, c in zip(range(max_commits), walker, strict=False)])

    def _read(self, commits: list[pygit2.Commit]) -> None:
        position = {c.id: i for i, c in enumerate(commits)}
        self._commits = commits
        self._position = {str(c.id): i for i, c in enumerate(commits)}
        self._ancestors = [0] * len(commits)
        for i in reversed(range(len(commits))):  # parents before children
            bits = 1 << i
            for parent in commits[i].parent_ids:
                if parent in position:
                    bits |= self._ancestors[position[parent]]
            self._ancestors[i] = bits
        for i, commit in enumerate(commits):
            for path in _changed_paths(commit):
                self._changes.setdefault(path, []).append(i)

    @property
    def tip(self) -> str | None:
        """The commit the history ends at; None when there is none (an unborn HEAD)."""
        return str(self._tip.id) if self._tip is not None else None

    def blob_at(self, relpath: str, commit: str | None = None) -> str | None:
        """The blob id of `relpath` at `commit` (default: the tip); None when absent there, or
        when the repository does not hold that commit."""
        if commit is None:
            return _blob_id(self._tip, _tree_path(relpath)) if self._tip is not None else None
        try:
            found = self._repo.get(commit)
        except _PYGIT2_ERRORS:
            return None
        return _blob_id(found, _tree_path(relpath)) if isinstance(found, pygit2.Commit) else None

    def last_change(self, relpath: str) -> str | None:
        """The newest commit that changed, added or deleted `relpath`; None if there is none."""
        changes = self._changes.get(_tree_path(relpath))
        return str(self._commits[changes[0]].id) if changes else None

    def first_change(self, relpath: str, after: str | None, blob: str | None
                     ) -> tuple[str, int] | None:
        """The earliest commit since `after` (one `after` does not contain) whose `relpath` is
        not blob `blob` (changed, added or deleted), and how many later commits changed it
        again; None if no commit since holds anything else. A commit `after` is not part of
        (on another branch) counts from where the two histories met."""
        changes = self._changes.get(_tree_path(relpath), [])
        seen = self._contained(after)
        since = [i for i in reversed(changes) if not (seen >> i) & 1]  # oldest first
        tree_path = _tree_path(relpath)
        for n, i in enumerate(since):
            if _blob_id(self._commits[i], tree_path) != blob:
                return str(self._commits[i].id), len(since) - n - 1
        return None

    def contains(self, commit: str) -> bool:
        """Whether `commit` is in the history: the tip or one of its ancestors."""
        if commit in self._position:
            return True
        try:
            return self._tip is not None and self._repo.descendant_of(self._tip.id, commit)
        except _PYGIT2_ERRORS:
            return False

    def worktree_state(self, relpath: str) -> str:
        """How `relpath` stands in the working tree: `ignored` or `untracked` (git keeps no
        version of it), `uncommitted` (it, or its staged version, differs from HEAD), else
        `clean`."""
        if relpath not in self._states:
            with _translated(f"cannot read the status of {relpath}", self._root):
                self._states[relpath] = self._state(relpath)
        return self._states[relpath]

    def _state(self, relpath: str) -> str:
        try:
            flags = self._repo.status_file(relpath)
        except KeyError:  # gone from disk, and not in the index
            return "ignored" if self._repo.path_is_ignored(relpath) else "untracked"
        if flags & FileStatus.IGNORED:
            return "ignored"
        if flags & FileStatus.WT_NEW and not flags & FileStatus.INDEX_NEW:
            return "untracked"
        return "uncommitted" if flags & (_TRACKED_CHANGE | FileStatus.INDEX_NEW) else "clean"

    def _contained(self, after: str | None) -> int:
        """The bits of the commits `after` contains: its ancestors, or those of the commit where
        its history and this one's meet; none when it is unknown here."""
        if after is None:
            return 0
        position = self._position.get(after)
        if position is None:
            if after not in self._met:
                self._met[after] = self._position.get(self._merge_base(after) or "")
            position = self._met[after]
        return self._ancestors[position] if position is not None else 0

    def _merge_base(self, commit: str) -> str | None:
        """Where the history of `commit` meets this one; None when it does not, or is unknown."""
        if self._tip is None:
            return None
        try:
            base = self._repo.merge_base(commit, self._tip.id)
        except _PYGIT2_ERRORS:
            return None
        return str(base) if base is not None else None


def _changed_paths(commit: pygit2.Commit) -> set[str]:
    """Paths whose version in `commit` none of its parents hold (so a merge that only brings
    in a change does not count as making it)."""
    if not commit.parents:
        return {path for path, _ in _tree_blobs(commit.tree)}
    changed: set[str] | None = None
    for parent in commit.parents:
        diff = parent.tree.diff_to_tree(commit.tree)
        paths = {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)}
        changed = paths if changed is None else changed & paths
    return changed or set()


def _tree_blobs(tree: pygit2.Tree, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, blob id) of every file under `tree`."""
    for entry in tree:
        if isinstance(entry, pygit2.Tree):
            yield from _tree_blobs(entry, f"{prefix}{entry.name}/")
        elif isinstance(entry, pygit2.Blob):
            yield f"{prefix}{entry.name}", str(entry.id)


# -- capture ---------------------------------------------------------------------------------------


def _capture(repo: pygit2.Repository, root: str, cap: int, secret_files: Sequence[str]) -> Git:
    head_ref = repo.lookup_reference("HEAD")
    detached = head_ref.type == ReferenceType.DIRECT
    branch = None if detached else str(head_ref.target).removeprefix("refs/heads/")
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)

    status = {p: f for p, f in repo.status().items() if not f & FileStatus.IGNORED}
    untracked = sorted(p for p, f in status.items() if f & FileStatus.WT_NEW)
    dirty = bool(status)
    pinned_ref: str | None = None
    snapshot: str | None = None
    excluded: tuple[str, ...] = ()
    try:
        if head is not None:
            pinned_ref = COMMITS_REF_PREFIX + str(head.id)
            _ensure_ref(repo, pinned_ref, head.id)
        if dirty:
            snapshot, excluded = _snapshot(repo, head, status, untracked, cap, secret_files)
    except (pygit2.GitError, OSError) as exc:
        if not _is_unwritable(exc):
            raise
        # The user's work comes first: the run goes on, recording what could be read.
        log.warning("cannot write to the git repository %s (%s): the run records its commit "
                    "without pinning it%s", root, exc,
                    ", and that the tree was dirty without a snapshot of it" if dirty else "")
        pinned_ref = snapshot = None
    return Git(
        repo_root=root,
        commit=None if head is None else str(head.id),
        branch=branch,
        detached=detached,
        dirty=dirty,
        snapshot=snapshot,
        untracked=tuple(untracked[:MAX_UNTRACKED_LISTED]),
        untracked_count=len(untracked),
        pinned_ref=pinned_ref,
        excluded=excluded[:MAX_UNTRACKED_LISTED],
    )


def _snapshot(
    repo: pygit2.Repository,
    head: pygit2.Commit | None,
    status: dict[str, int],
    untracked: list[str],
    cap: int,
    secret_files: Sequence[str],
) -> tuple[str, tuple[str, ...]]:
    """A commit of the working tree as it is now, one per distinct tree (refs/bathos/snapshots),
    and the untracked files left out of it because they look secret (never read, never stored).
    """
    index = pygit2.Index()  # in memory: the user's .git/index is never read into or written
    if head is not None:
        index.read_tree(head.tree)
    # Dropped from the user's index: gone, ignored now, or back below as an untracked file.
    for relpath in sorted(p for p, f in status.items() if f & FileStatus.INDEX_DELETED):
        _remove(index, relpath)
    unstaged = FileStatus.INDEX_DELETED | FileStatus.WT_NEW
    tracked = sorted(p for p, f in status.items() if f & _TRACKED_CHANGE and not f & unstaged)
    trust_mode = _config_bool(repo, "core.filemode", default=True)
    staged, excluded = _secret_looking(repo, untracked, secret_files)
    for relpath in [*tracked, *_within_cap(repo, staged, cap)]:
        _stage_from_workdir(repo, index, relpath, trust_mode)
    tree_id = index.write_tree(repo)

    ref_name = SNAPSHOTS_REF_PREFIX + str(tree_id)
    existing = repo.references.get(ref_name)
    if existing is not None:
        return str(existing.peel(pygit2.Commit).id), excluded
    signature = pygit2.Signature("bathos", "bathos@localhost")
    parents = [] if head is None else [head.id]
    message = f"bathos snapshot of {'an unborn HEAD' if head is None else head.id}\n"
    commit_id = repo.create_commit(None, signature, signature, message, tree_id, parents)
    return str(_ensure_ref(repo, ref_name, commit_id)), excluded


def _secret_looking(
    repo: pygit2.Repository, untracked: list[str], secret_files: Sequence[str]
) -> tuple[list[str], tuple[str, ...]]:
    """`untracked` split into the files to snapshot and those that look secret (logged once)."""
    staged: list[str] = []
    excluded: list[str] = []
    for relpath in untracked:
        (excluded if is_secret_file(relpath, secret_files) else staged).append(relpath)
    if excluded:
        log.warning(
            "kept %d secret-looking untracked file(s) out of the git snapshot of %s (their paths "
            "are recorded, never their content; .gitignore them to keep them out of git): %s",
            len(excluded),
            _workdir(repo),
            _listed(excluded),
        )
    return staged, tuple(excluded)


def _within_cap(repo: pygit2.Repository, untracked: list[str], cap: int) -> Iterator[str]:
    """The untracked files that fit the cap: any single file above it is skipped, and once the
    total would pass it, the rest are skipped. Skipped files are logged."""
    workdir = Path(_workdir(repo))
    total = 0
    skipped: list[str] = []
    for n, relpath in enumerate(untracked):
        try:
            st = os.lstat(workdir / relpath)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            continue  # a nested repository: not snapshotted, not counted
        size = st.st_size
        if size > cap:
            skipped.append(f"{relpath} ({size} bytes)")
        elif total + size > cap:
            skipped.extend(untracked[n:])
            break
        else:
            total += size
            yield relpath
    if skipped:
        log.warning(
            "left %d untracked file(s) out of the git snapshot of %s (cap %d bytes): %s",
            len(skipped),
            workdir,
            cap,
            _listed(skipped),
        )


def _listed(paths: Sequence[str]) -> str:
    """The first few of `paths`, for a log line: `a, b and 3 more`."""
    more = f" and {len(paths) - _SKIPPED_SHOWN} more" if len(paths) > _SKIPPED_SHOWN else ""
    return ", ".join(paths[:_SKIPPED_SHOWN]) + more


def _stage_from_workdir(
    repo: pygit2.Repository, index: pygit2.Index, relpath: str, trust_mode: bool
) -> None:
    """Put the working-tree version of `relpath` into `index`, or remove it when it is gone."""
    current = _entry(index, relpath)
    if current is not None and current.mode == FileMode.COMMIT:
        return  # a submodule keeps its gitlink from HEAD
    full = Path(_workdir(repo)) / relpath
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        _remove(index, relpath)
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return  # a nested repository ("dir/"), a new submodule, a socket …: not file content
    try:
        blob = repo.create_blob_fromworkdir(relpath)
    except (OSError, pygit2.GitError):
        if not os.path.lexists(full):
            _remove(index, relpath)  # deleted between status and now
            return
        if not stat.S_ISREG(st.st_mode):
            raise
        # Written while git read it (the logs of a SLURM array's other tasks, in the tree):
        # the bytes it holds now.
        blob = repo.create_blob(full.read_bytes())
    index.add(pygit2.IndexEntry(relpath, blob, _file_mode(st, current, trust_mode)))


def _entry(index: pygit2.Index, relpath: str) -> pygit2.IndexEntry | None:
    try:
        return index[relpath]
    except KeyError:
        return None


def _remove(index: pygit2.Index, relpath: str) -> None:
    """Drop `relpath` from `index` if it is there; a submodule's gitlink stays as in HEAD."""
    current = _entry(index, relpath)
    if current is not None and current.mode != FileMode.COMMIT:
        index.remove(relpath)


def _file_mode(st: os.stat_result, current: pygit2.IndexEntry | None, trust_mode: bool) -> FileMode:
    if stat.S_ISLNK(st.st_mode):
        return FileMode.LINK
    if not trust_mode:  # core.filemode=false: the executable bit on disk means nothing
        return current.mode if current is not None else FileMode.BLOB
    return FileMode.BLOB_EXECUTABLE if st.st_mode & stat.S_IXUSR else FileMode.BLOB


def _ensure_ref(repo: pygit2.Repository, name: str, target: pygit2.Oid) -> pygit2.Oid:
    """Create ref `name` -> `target` unless it exists; returns what the ref points to.

    Many processes of a SLURM array may race here: losing the race (ref already there, or its lock
    file held by another writer for a moment) is not an error.
    """
    for attempt in range(_REF_ATTEMPTS):
        existing = repo.references.get(name)
        if existing is not None:
            return existing.peel(pygit2.Commit).id
        try:
            repo.references.create(name, target)
            return target
        except pygit2.AlreadyExistsError:
            continue
        except (pygit2.GitError, OSError) as exc:  # a held lock file is an OSError too
            if _is_unwritable(exc):
                raise
            time.sleep(0.002 * (attempt + 1))
    raise ProvenanceError(
        f"could not create git ref {name} in {_workdir(repo)}: its lock file stayed taken "
        f"(if no other bathos run is starting, remove {name}.lock from the directory that "
        "`git rev-parse --git-common-dir` prints)"
    )


# -- helpers ---------------------------------------------------------------------------------------


# How libgit2 words a write the file system refuses (it gives no errno).
_UNWRITABLE = ("No space left on device", "Read-only file system", "Disk quota exceeded",
               "Permission denied")


def _is_unwritable(exc: Exception) -> bool:
    """Whether a pygit2 error says the repository's file system refused a write (full, read-only,
    over quota), rather than, say, a lock file another writer holds."""
    return any(reason in str(exc) for reason in _UNWRITABLE)


def _discover(path: Path, *, warn_bare: bool = False) -> pygit2.Repository | None:
    """The repository with a working tree that contains `path`; None outside one (a bare
    repository, or a git directory without its work tree, counts as outside, with a warning
    when `warn_bare`)."""
    start = Path(os.path.abspath(path))
    while not start.is_dir():
        if start.parent == start:
            return None
        start = start.parent
    try:
        gitdir = pygit2.discover_repository(str(start))
        if gitdir is None:
            return None
        repo = pygit2.Repository(gitdir)
    except _PYGIT2_ERRORS as exc:
        raise _open_error(start, exc) from exc
    if repo.is_bare or repo.workdir is None:
        if warn_bare:
            log.warning("%s is inside the git directory %s, which has no working tree: the run "
                        "records no code version (run it from a checkout)", path, repo.path)
        return None
    return repo


def _open(repo_root: Path) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(repo_root))
    except _PYGIT2_ERRORS as exc:
        raise _open_error(repo_root, exc) from exc


def _open_error(where: Path, exc: Exception) -> ProvenanceError:
    message = str(exc)
    if "not owned by current user" in message:
        hint = "if you trust it: git config --global --add safe.directory <its root>"
    else:
        hint = f"run `git status` in {where} to see what is wrong"
    return ProvenanceError(f"cannot open the git repository containing {where}: {message} ({hint})")


@contextmanager
def _translated(what: str, root: str) -> Iterator[None]:
    """Turn pygit2's errors into a ProvenanceError that says what failed and what to try."""
    try:
        yield
    except ProvenanceError:
        raise
    except _PYGIT2_ERRORS as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ProvenanceError(
            f"{what}: {detail} (run `git status` and `git fsck` in {root} to see what is wrong)"
        ) from exc


def _workdir(repo: pygit2.Repository) -> str:
    return str(Path(repo.workdir))


def _config_bool(repo: pygit2.Repository, key: str, *, default: bool) -> bool:
    try:
        return bool(repo.config.get_bool(key))
    except KeyError:
        return default


def _resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        where = _workdir(repo)
        raise ProvenanceError(
            f"unknown git revision {rev!r} in {where} (check it with `git rev-parse {rev}`)"
        ) from exc


@functools.lru_cache(maxsize=65536)
def _tree_path(relpath: str) -> str:
    return PurePosixPath(relpath).as_posix()


def _blob_id(commit: pygit2.Commit, relpath: str) -> str | None:
    try:
        return str(commit.tree[relpath].id)
    except KeyError:
        return None
