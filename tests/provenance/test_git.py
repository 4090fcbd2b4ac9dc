"""Git provenance against real repositories made with the git command line in tmp_path."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from gitrepo import HERMETIC, git

from bathos.errors import ProvenanceError
from bathos.provenance.git import (
    History,
    capture_git,
    index_blob_ids,
    repo_root_of,
    tree_blob_ids,
)

GIT_ENV = {**os.environ, **HERMETIC}


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def show(repo: Path, rev: str, relpath: str) -> str:
    return git(repo, "show", f"{rev}:{relpath}")


def tree_paths(repo: Path, rev: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", rev).splitlines())


def tree_modes(repo: Path, rev: str) -> dict[str, str]:
    rows = (line.split(None, 3) for line in git(repo, "ls-tree", "-r", rev).splitlines())
    return {path: mode for mode, _, _, path in rows}


def bathos_refs(repo: Path, kind: str) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname)", f"refs/bathos/{kind}/")
    return out.splitlines()


def worktree_files(repo: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("print('train')\n")
    (root / "lib").mkdir()
    (root / "lib" / "util.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / ".gitignore").write_text("*.log\n")
    commit_all(root, "initial")
    return root


# -- capture_git -----------------------------------------------------------------------------------


def test_clean_repo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # discovery starts at the script, not the cwd
    head = git(repo, "rev-parse", "HEAD")

    info = capture_git(repo / "lib" / "util.py")

    assert info is not None
    assert Path(info.repo_root) == repo.resolve()
    assert not info.repo_root.endswith("/")
    assert info.commit == head
    assert info.branch == "main"
    assert not info.detached
    assert not info.dirty
    assert info.snapshot is None
    assert info.untracked == ()
    assert info.pinned_ref == f"refs/bathos/commits/{head}"
    assert git(repo, "rev-parse", info.pinned_ref) == head
    assert bathos_refs(repo, "snapshots") == []


def test_directory_path_and_relative_path(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "lib")
    from_dir = capture_git(repo / "lib")
    from_relative = capture_git(Path("util.py"))
    assert from_dir is not None and from_relative is not None
    assert from_dir.repo_root == from_relative.repo_root == str(repo.resolve())


def test_pinning_is_idempotent(repo: Path) -> None:
    first = capture_git(repo / "train.py")
    second = capture_git(repo / "train.py")
    assert first == second
    assert len(bathos_refs(repo, "commits")) == 1


def test_modified_tracked_file(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    status_before = git(repo, "status", "--porcelain")

    info = capture_git(repo / "train.py")

    assert info is not None and info.dirty and info.snapshot is not None
    assert info.untracked == ()
    assert show(repo, info.snapshot, "train.py") == "print('changed')"
    assert show(repo, info.snapshot, "lib/util.py") == "X = 1"
    assert git(repo, "rev-parse", f"{info.snapshot}^") == info.commit
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", info.snapshot) == (
        "bathos <bathos@localhost>|bathos <bathos@localhost>"
    )
    [ref] = bathos_refs(repo, "snapshots")
    assert ref == "refs/bathos/snapshots/" + git(repo, "rev-parse", f"{info.snapshot}^{{tree}}")
    assert git(repo, "status", "--porcelain") == status_before


def test_untracked_file_in_snapshot_and_ignored_file_not(repo: Path) -> None:
    (repo / "notes.txt").write_text("remember\n")
    (repo / "data").mkdir()
    (repo / "data" / "table.csv").write_text("a,b\n")
    (repo / "debug.log").write_text("noise\n")

    info = capture_git(repo / "train.py")

    assert info is not None and info.dirty and info.snapshot is not None
    assert info.untracked == ("data/table.csv", "notes.txt")
    paths = tree_paths(repo, info.snapshot)
    assert {"notes.txt", "data/table.csv", "train.py"} <= paths
    assert "debug.log" not in paths


def test_only_ignored_files_is_clean(repo: Path) -> None:
    (repo / "debug.log").write_text("noise\n")
    info = capture_git(repo)
    assert info is not None and not info.dirty and info.snapshot is None


def test_staged_change(repo: Path) -> None:
    (repo / "lib" / "util.py").write_text("X = 2\n")
    git(repo, "add", "lib/util.py")

    info = capture_git(repo / "train.py")

    assert info is not None and info.dirty and info.snapshot is not None
    assert show(repo, info.snapshot, "lib/util.py") == "X = 2"


def test_staged_then_edited_again_takes_the_working_tree(repo: Path) -> None:
    (repo / "lib" / "util.py").write_text("X = 2\n")
    git(repo, "add", "lib/util.py")
    (repo / "lib" / "util.py").write_text("X = 3\n")

    info = capture_git(repo)

    assert info is not None and info.snapshot is not None
    assert show(repo, info.snapshot, "lib/util.py") == "X = 3"


def test_deleted_files(repo: Path) -> None:
    (repo / "lib" / "util.py").unlink()
    git(repo, "rm", "-q", "run.sh")

    info = capture_git(repo / "train.py")

    assert info is not None and info.dirty and info.snapshot is not None
    paths = tree_paths(repo, info.snapshot)
    assert "lib/util.py" not in paths
    assert "run.sh" not in paths
    assert "train.py" in paths


def test_file_dropped_from_index_but_kept_on_disk_is_untracked(repo: Path) -> None:
    git(repo, "rm", "-q", "--cached", "run.sh", "train.py")
    (repo / ".gitignore").write_text("*.log\ntrain.py\n")  # now ignored: not in the snapshot

    info = capture_git(repo)
    capped = capture_git(repo, untracked_cap_bytes=0)

    assert info is not None and info.snapshot is not None
    assert info.untracked == ("run.sh",)
    paths = tree_paths(repo, info.snapshot)
    assert "run.sh" in paths
    assert "train.py" not in paths
    assert capped is not None and capped.snapshot is not None
    assert "run.sh" not in tree_paths(repo, capped.snapshot)  # over the cap: left out, not HEAD's


def test_symlinks_and_executable_modes_are_kept(repo: Path) -> None:
    (repo / "run.sh").chmod(0o755)
    (repo / "latest").symlink_to("train.py")

    info = capture_git(repo)

    assert info is not None and info.snapshot is not None
    modes = tree_modes(repo, info.snapshot)
    assert modes["run.sh"] == "100755"
    assert modes["latest"] == "120000"
    assert modes["train.py"] == "100644"
    assert show(repo, info.snapshot, "latest") == "train.py"


def test_detached_head(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    second = commit_all(repo, "second")
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", first)

    info = capture_git(repo / "train.py")

    assert info is not None
    assert info.detached
    assert info.branch is None
    assert info.commit == first != second
    assert not info.dirty
    assert info.pinned_ref == f"refs/bathos/commits/{first}"


def test_outside_git_returns_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "script.py").write_text("pass\n")
    assert capture_git(plain / "script.py") is None
    assert capture_git(plain / "missing" / "script.py") is None
    assert repo_root_of(plain / "script.py") is None


def test_repo_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")

    empty = capture_git(root)
    assert empty is not None
    assert empty.commit is None and empty.pinned_ref is None
    assert empty.branch == "main" and not empty.detached
    assert not empty.dirty and empty.snapshot is None

    (root / "script.py").write_text("print(1)\n")
    (root / "staged.py").write_text("print(2)\n")
    git(root, "add", "staged.py")
    info = capture_git(root / "script.py")

    assert info is not None and info.dirty and info.snapshot is not None
    assert info.commit is None
    assert info.untracked == ("script.py",)
    assert tree_paths(root, info.snapshot) == {"script.py", "staged.py"}
    assert git(root, "log", "--format=%P", "-1", info.snapshot) == ""  # no parent
    assert bathos_refs(root, "commits") == []


def test_worktree_checkout(repo: Path, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    (worktree / "train.py").write_text("print('in worktree')\n")
    (worktree / "extra.txt").write_text("new\n")
    wt_index = Path(git(worktree, "rev-parse", "--absolute-git-dir")) / "index"
    main_index_before = (repo / ".git" / "index").read_bytes()
    wt_index_before = wt_index.read_bytes()

    info = capture_git(worktree / "train.py")

    assert info is not None
    assert Path(info.repo_root) == worktree.resolve()
    assert info.branch == "feature" and not info.detached
    assert info.commit == git(worktree, "rev-parse", "HEAD")
    assert info.dirty and info.snapshot is not None
    assert info.untracked == ("extra.txt",)
    assert show(repo, info.snapshot, "train.py") == "print('in worktree')"
    # the refs live in the shared repository, where gc in the main checkout sees them
    assert bathos_refs(repo, "snapshots") == bathos_refs(worktree, "snapshots") != []
    assert (repo / ".git" / "index").read_bytes() == main_index_before
    assert wt_index.read_bytes() == wt_index_before


def test_pins_survive_rebase_reflog_expiry_and_gc(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    pinned = commit_all(repo, "v2")
    (repo / "train.py").write_text("print('v3, uncommitted')\n")
    (repo / "notes.txt").write_text("untracked notes\n")
    at_capture = {p: (repo / p).read_text() for p in ("train.py", "notes.txt", "lib/util.py")}

    info = capture_git(repo / "train.py")
    assert info is not None and info.snapshot is not None and info.commit == pinned

    # Rewrite history: `pinned` is replaced by a rebased copy and unreachable from any branch.
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd")
    git(repo, "checkout", "-q", "-b", "other", "HEAD~1")
    (repo / "lib" / "util.py").write_text("X = 99\n")
    commit_all(repo, "other work")
    git(repo, "checkout", "-q", "main")
    git(repo, "rebase", "-q", "other")
    assert git(repo, "rev-parse", "HEAD") != pinned
    assert git(repo, "branch", "--contains", pinned) == ""
    dangling = git(repo, "hash-object", "-w", "--stdin")  # empty blob, reachable from nothing
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")

    assert git(repo, "cat-file", "-t", pinned) == "commit"
    assert git(repo, "cat-file", "-t", info.snapshot) == "commit"
    assert tree_paths(repo, info.snapshot) == {".gitignore", "lib/util.py", "run.sh", *at_capture}
    for relpath, content in at_capture.items():
        assert show(repo, info.snapshot, relpath) == content.rstrip("\n")
    # gc really did prune: an unpinned object is gone
    gone = subprocess.run(["git", "cat-file", "-e", dangling], cwd=repo, env=GIT_ENV, check=False)
    assert gone.returncode != 0


def test_capture_leaves_index_head_and_reflogs_alone(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "lib" / "util.py").write_text("X = 2\n")
    git(repo, "add", "lib/util.py")
    git(repo, "rm", "-q", "--cached", "run.sh")
    (repo / "new.txt").write_text("new\n")
    watched = [
        repo / ".git" / "index",
        repo / ".git" / "HEAD",
        repo / ".git" / "logs" / "HEAD",
        repo / ".git" / "logs" / "refs" / "heads" / "main",
        repo / ".git" / "refs" / "heads" / "main",
    ]
    before = {p: p.read_bytes() for p in watched}
    status_before = git(repo, "status", "--porcelain")
    files_before = worktree_files(repo)

    info = capture_git(repo / "train.py")

    assert info is not None and info.snapshot is not None
    assert {p: p.read_bytes() for p in watched} == before
    assert git(repo, "status", "--porcelain") == status_before
    assert worktree_files(repo) == files_before
    assert not (repo / ".git" / "logs" / "refs" / "bathos").exists()


def test_same_dirty_tree_reuses_one_snapshot(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    first = capture_git(repo / "train.py")
    second = capture_git(repo / "train.py")
    assert first is not None and second is not None
    assert first.snapshot == second.snapshot is not None
    assert len(bathos_refs(repo, "snapshots")) == 1

    (repo / "train.py").write_text("print('dirtier')\n")
    third = capture_git(repo / "train.py")
    assert third is not None and third.snapshot not in (None, first.snapshot)
    assert len(bathos_refs(repo, "snapshots")) == 2


def test_parallel_captures_agree(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    (repo / "notes.txt").write_text("untracked\n")
    code = (
        "import sys; from pathlib import Path; from bathos.provenance.git import capture_git; "
        "g = capture_git(Path(sys.argv[1])); print(g.snapshot, g.pinned_ref)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(repo / "train.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * 8, [err for _, err in results]
    assert len({out for out, _ in results}) == 1
    assert len(bathos_refs(repo, "snapshots")) == 1
    assert len(bathos_refs(repo, "commits")) == 1


def test_ref_lock_held_for_a_moment_is_waited_for(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    lock = repo / ".git" / "refs" / "bathos" / "commits" / f"{head}.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()  # as if another process were creating the same pin right now
    threading.Timer(0.05, lock.unlink).start()

    info = capture_git(repo / "train.py")

    assert info is not None and info.pinned_ref == f"refs/bathos/commits/{head}"
    assert git(repo, "rev-parse", info.pinned_ref) == head


def test_stale_ref_lock_raises_provenance_error(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    lock = repo / ".git" / "refs" / "bathos" / "commits" / f"{head}.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    with pytest.raises(ProvenanceError, match=r"remove refs/bathos/commits/\w+\.lock"):
        capture_git(repo / "train.py")


def test_untracked_cap(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo / "a_big.bin").write_bytes(b"x" * 200)  # alone above the cap: skipped
    (repo / "b_small.txt").write_bytes(b"b" * 60)  # fits
    (repo / "c_small.txt").write_bytes(b"c" * 60)  # total would pass 100: stop here
    (repo / "d_tiny.txt").write_bytes(b"d")  # after the stop: skipped too

    with caplog.at_level(logging.WARNING, logger="bathos.provenance"):
        info = capture_git(repo / "train.py", untracked_cap_bytes=100)

    assert info is not None and info.snapshot is not None
    assert info.untracked == ("a_big.bin", "b_small.txt", "c_small.txt", "d_tiny.txt")
    paths = tree_paths(repo, info.snapshot)
    assert "b_small.txt" in paths
    assert not {"a_big.bin", "c_small.txt", "d_tiny.txt"} & paths
    logged = caplog.text
    assert all(name in logged for name in ("a_big.bin", "c_small.txt", "d_tiny.txt"))
    assert "b_small.txt" not in logged


def test_submodule_keeps_its_gitlink(repo: Path, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q")
    (upstream / "s.txt").write_text("one\n")
    commit_all(upstream, "one")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "sub")
    commit_all(repo, "add submodule")
    gitlink = git(repo, "rev-parse", "HEAD:sub")
    (repo / "sub" / "s.txt").write_text("two\n")
    commit_all(repo / "sub", "two")  # the submodule now sits at another commit
    (repo / "train.py").write_text("print('dirty')\n")

    info = capture_git(repo / "train.py")

    assert info is not None and info.dirty and info.snapshot is not None
    assert git(repo, "rev-parse", f"{info.snapshot}:sub") == gitlink
    assert tree_modes(repo, info.snapshot)["sub"] == "160000"


def test_nested_repository_is_listed_not_snapshotted(repo: Path) -> None:
    nested = repo / "vendor"
    nested.mkdir()
    git(nested, "init", "-q")
    (nested / "code.py").write_text("pass\n")

    info = capture_git(repo)

    assert info is not None and info.dirty and info.snapshot is not None
    assert info.untracked == ("vendor/",)
    assert not any(p.startswith("vendor") for p in tree_paths(repo, info.snapshot))


def test_corrupt_repository_raises_provenance_error(repo: Path) -> None:
    (repo / ".git" / "HEAD").write_text("garbage\n")
    with pytest.raises(ProvenanceError, match="git"):
        capture_git(repo / "train.py")


def test_unparseable_config_raises_provenance_error(repo: Path) -> None:
    (repo / ".git" / "config").write_text("[core\nbroken")
    with pytest.raises(ProvenanceError, match="cannot open the git repository"):
        capture_git(repo / "train.py")


# -- helpers for freshness -------------------------------------------------------------------------


def test_repo_root_of(repo: Path) -> None:
    assert repo_root_of(repo / "lib" / "util.py") == repo.resolve()
    assert repo_root_of(repo) == repo.resolve()


def test_tree_blob_ids_at_any_revision(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1")
    (repo / "lib" / "util.py").write_text("X = 2\n")
    commit_all(repo, "second")
    old, new = (git(repo, "rev-parse", f"{rev}:lib/util.py") for rev in (first, "HEAD"))

    assert tree_blob_ids(repo, "HEAD")["lib/util.py"] == new
    assert tree_blob_ids(repo, "main")["lib/util.py"] == new
    assert tree_blob_ids(repo, "v1")["lib/util.py"] == old
    assert tree_blob_ids(repo, first[:8])["lib/util.py"] == old
    assert set(tree_blob_ids(repo, "HEAD")) == tree_paths(repo, "HEAD")  # files, not directories


def test_tree_blob_ids_unknown_rev(repo: Path) -> None:
    with pytest.raises(ProvenanceError, match="no-such-branch"):
        tree_blob_ids(repo, "no-such-branch")


def test_tree_blob_ids_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="cannot open the git repository"):
        tree_blob_ids(tmp_path, "HEAD")


def staged_entries(repo: Path) -> dict[str, tuple[str, int, int, int]]:
    """`git ls-files -s --debug`: path -> (blob, stage, mtime ns, size), as git stored them."""
    lines = git(repo, "-c", "core.quotepath=off", "ls-files", "-s", "--debug").splitlines()
    entries = {}
    for n in range(0, len(lines), 6):
        head, fields = lines[n], " ".join(lines[n + 1 : n + 6])
        mode_blob_stage, path = head.split("\t", 1)
        _, blob, stage = mode_blob_stage.split()
        seconds, nanos = fields.split("mtime: ", 1)[1].split()[0].split(":")
        size = fields.split("size: ", 1)[1].split()[0]
        entries[path] = (blob, int(stage), int(seconds) * 10**9 + int(nanos), int(size))
    return entries


def test_index_blob_ids_gives_what_the_index_stored(repo: Path) -> None:
    # index_blob_ids reads the stat fields through pygit2's private cffi layer (its IndexEntry
    # hides them): this fails first if a pygit2 release changes that layout.
    (repo / "lib" / "util.py").write_text("X = 2\n")
    (repo / "données.py").write_text("Y = 1\n")
    git(repo, "add", "lib/util.py", "données.py")
    (repo / "train.py").write_text("print('unstaged')\n")  # the index keeps the committed blob
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "run.sh").write_text("#!/bin/sh\necho side\n")
    commit_all(repo, "side")
    git(repo, "checkout", "-q", "main")
    (repo / "run.sh").write_text("#!/bin/sh\necho main\n")
    commit_all(repo, "main")
    subprocess.run(["git", "merge", "-q", "side"], cwd=repo, env=GIT_ENV, capture_output=True)
    stored = staged_entries(repo)
    assert {stage for _, stage, _, _ in stored.values()} == {0, 3}  # run.sh is conflicted

    entries = index_blob_ids(repo)

    assert entries == {path: (blob, mtime_ns, size)
                       for path, (blob, stage, mtime_ns, size) in stored.items() if stage == 0}
    assert "run.sh" not in entries
    assert entries["données.py"][0] == git(repo, "hash-object", "données.py")


def test_history_last_and_first_change(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    used = git(repo, "rev-parse", "HEAD:lib/util.py")
    (repo / "lib" / "util.py").write_text("X = 2\n")
    changed_util = commit_all(repo, "change util")
    (repo / "train.py").write_text("print('v2')\n")
    changed_train = commit_all(repo, "change train")
    (repo / "lib" / "util.py").write_text("X = 3\n")
    again = commit_all(repo, "change util again")
    history = History(repo)

    assert history.last_change("lib/util.py") == again
    assert history.last_change("./lib/util.py") == again
    assert history.last_change("train.py") == changed_train
    assert history.last_change("run.sh") == first  # added by the root commit
    assert history.last_change("never.py") is None
    assert history.first_change("lib/util.py", first, used) == (changed_util, 1)
    assert history.first_change("lib/util.py", changed_util, used) == (again, 0)
    assert history.first_change("lib/util.py", again, used) is None  # unchanged since
    assert history.first_change("train.py", first, None) == (changed_train, 0)
    assert history.blob_at("lib/util.py") == git(repo, "rev-parse", "HEAD:lib/util.py")
    assert history.blob_at("lib/util.py", first) == used
    assert history.blob_at("lib/util.py", "0" * 40) is None
    assert history.tip == again and history.contains(first)
    assert History(repo, max_commits=1).last_change("lib/util.py") == again
    assert History(repo, max_commits=1).last_change("train.py") is None
    assert History(repo, "HEAD~2").last_change("train.py") == first
    assert not History(repo, "HEAD~2").contains(again)

    git(repo, "rm", "-q", "lib/util.py")
    deleted = commit_all(repo, "delete util")
    assert History(repo).first_change("lib/util.py", again, history.blob_at("lib/util.py")) == (
        deleted, 0)
    assert History(repo).blob_at("lib/util.py") is None


def test_history_first_change_from_another_branch(repo: Path) -> None:
    """A run made on a branch: only commits since the histories met count."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "lib" / "util.py").write_text("X = side\n")
    on_side = commit_all(repo, "side change")
    side_blob = git(repo, "rev-parse", "HEAD:lib/util.py")
    git(repo, "checkout", "-q", "main")
    history = History(repo)

    assert history.first_change("lib/util.py", on_side, side_blob) is None
    assert not history.contains(on_side) and history.contains(base)
    (repo / "lib" / "util.py").write_text("X = main\n")
    on_main = commit_all(repo, "main change")
    assert History(repo).first_change("lib/util.py", on_side, side_blob) == (on_main, 0)


def test_history_worktree_state(repo: Path) -> None:
    (repo / "run.log").write_text("x\n")
    (repo / "notes.txt").write_text("x\n")
    (repo / "train.py").write_text("print('edited')\n")
    history = History(repo)

    assert history.worktree_state("run.log") == "ignored"
    assert history.worktree_state("gone.log") == "ignored"
    assert history.worktree_state("notes.txt") == "untracked"
    assert history.worktree_state("gone.txt") == "untracked"
    assert history.worktree_state("train.py") == "uncommitted"
    assert history.worktree_state("run.sh") == "clean"


def test_history_through_a_merge(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "lib" / "util.py").write_text("X = side\n")
    on_side = commit_all(repo, "side change")
    git(repo, "checkout", "-q", "main")
    (repo / "train.py").write_text("print('main')\n")
    commit_all(repo, "main change")
    git(repo, "merge", "-q", "--no-edit", "side")

    assert History(repo).last_change("lib/util.py") == on_side


def test_history_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert History(tmp_path).last_change("x.py") is None
    assert History(tmp_path).blob_at("x.py") is None
    assert History(tmp_path).first_change("x.py", None, None) is None
