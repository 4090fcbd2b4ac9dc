"""`bth run` records the code version: commit, branch, dirty tree, snapshot, pinned refs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepo import git
from project import Project

HELLO = "scripts/experiments/hello.py"


def refs(project: Project) -> set[str]:
    return set(project.git("for-each-ref", "--format=%(refname)", "refs/bathos/").split())


def exists(project: Project, rev: str) -> bool:
    done = subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=project.root,
                          capture_output=True, check=False)
    return done.returncode == 0


def test_clean_repository(project: Project) -> None:
    head = project.git("rev-parse", "HEAD")

    run = project.bth_run(HELLO)

    assert run.status == "completed"
    assert run.git is not None
    assert run.git.repo_root == str(project.root.resolve())
    assert (run.git.commit, run.git.branch, run.git.detached) == (head, "main", False)
    assert (run.git.dirty, run.git.snapshot, run.git.untracked) == (False, None, ())
    assert run.git.pinned_ref == f"refs/bathos/commits/{head}"
    assert refs(project) == {f"refs/bathos/commits/{head}"}


def test_dirty_tracked_change_is_snapshotted_as_it_was(project: Project) -> None:
    project.write(HELLO, "print('edited')\n")

    run = project.bth_run(HELLO)
    project.write(HELLO, "print('edited again after the run')\n")

    assert run.git is not None and run.git.dirty
    assert run.git.snapshot is not None
    assert project.git("show", f"{run.git.snapshot}:{HELLO}") == "print('edited')"
    assert project.git("rev-parse", f"{run.git.snapshot}^") == run.git.commit
    assert any(r.startswith("refs/bathos/snapshots/") for r in refs(project))
    assert project.bth("logs", run.id).stdout == "edited\n"


def test_untracked_file_is_listed_and_in_the_snapshot(project: Project) -> None:
    project.write(".gitignore", (project.root / ".gitignore").read_text() + "*.log\n")
    project.commit("ignore logs")
    project.write("notes/todo.txt", "untracked work\n")
    project.write("ignored.log", "not in the snapshot\n")

    run = project.bth_run(HELLO)

    assert run.git is not None
    assert run.git.dirty and run.git.untracked == ("notes/todo.txt",)
    snapshot = run.git.snapshot
    assert project.git("show", f"{snapshot}:notes/todo.txt") == "untracked work"
    assert "ignored.log" not in project.git("ls-tree", "-r", "--name-only", snapshot).split()


def test_identical_dirty_trees_share_one_snapshot_ref(project: Project) -> None:
    project.write("extra.txt", "same content\n")

    first = project.bth_run(HELLO)
    second = project.bth_run(HELLO)

    assert first.git is not None and second.git is not None
    assert first.git.snapshot == second.git.snapshot
    assert len([r for r in refs(project) if r.startswith("refs/bathos/snapshots/")]) == 1


def test_detached_head(project: Project) -> None:
    first = project.git("rev-parse", "HEAD")
    project.write("more.txt", "second commit\n")
    project.commit("second")
    project.git("checkout", "-q", "--detach", first)

    run = project.bth_run(HELLO)

    assert run.git is not None
    assert (run.git.commit, run.git.branch, run.git.detached) == (first, None, True)


def test_outside_git_the_run_is_still_recorded(plain_project: Project) -> None:
    run = plain_project.bth_run(HELLO)

    assert run.status == "completed"
    assert run.git is None
    assert run.script == HELLO
    assert [d.path for d in run.dependencies] == [HELLO]


def test_git_worktree_checkout(project: Project, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    project.git("worktree", "add", "-q", "-b", "feature", str(worktree))
    (worktree / HELLO).write_text("print('in the worktree')\n")
    head = git(worktree, "rev-parse", "HEAD")

    run = Project(worktree).bth_run(HELLO)

    assert run.git is not None
    assert run.git.repo_root == str(worktree.resolve())
    assert (run.git.commit, run.git.branch, run.git.dirty) == (head, "feature", True)
    assert git(worktree, "show", f"{run.git.snapshot}:{HELLO}") == "print('in the worktree')"
    assert f"refs/bathos/commits/{head}" in refs(project)  # refs live in the common git dir


def test_pins_survive_rebase_and_gc(project: Project) -> None:
    project.git("checkout", "-q", "-b", "feature")
    project.write("model.py", "VERSION = 1\n")
    feature_commit = project.commit("feature work")
    project.write("model.py", "VERSION = 2  # uncommitted\n")
    project.write("scratch_notes.txt", "untracked\n")
    run = project.bth_run(HELLO)
    assert run.git is not None and run.git.snapshot is not None
    snapshot = run.git.snapshot

    project.git("checkout", "-q", "--", ".")
    (project.root / "scratch_notes.txt").unlink()
    project.git("checkout", "-q", "main")
    project.write("other.py", "x = 1\n")
    project.commit("main moves on")
    project.git("checkout", "-q", "feature")
    project.git("rebase", "-q", "main")
    assert project.git("rev-parse", "HEAD") != feature_commit
    project.git("reflog", "expire", "--expire=now", "--all")
    project.git("gc", "-q", "--prune=now")

    assert run.git.commit == feature_commit
    assert project.git("show", f"{feature_commit}:model.py") == "VERSION = 1"
    assert project.git("show", f"{snapshot}:model.py") == "VERSION = 2  # uncommitted"
    assert project.git("show", f"{snapshot}:scratch_notes.txt") == "untracked"

    # Without bathos's refs the same history rewrite loses both commits: the pins did the work.
    for ref in refs(project):
        project.git("update-ref", "-d", ref)
    project.git("gc", "-q", "--prune=now")
    assert not exists(project, feature_commit)
    assert not exists(project, snapshot)


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_users_index_head_and_reflog_are_untouched(project: Project, dirty: bool) -> None:
    if dirty:
        project.write(HELLO, "print('dirty')\n")
        project.write("new_file.txt", "untracked\n")
    status = project.git("status", "--porcelain")  # git refreshes its own index here
    gitdir = project.root / ".git"
    watched = [gitdir / "index", gitdir / "HEAD", gitdir / "logs" / "HEAD"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched}

    project.bth_run(HELLO)

    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched} == before
    assert project.git("status", "--porcelain") == status
