"""Real git repositories for tests, made with the git command line, isolated from the user's and
the system's git configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import attrs

HERMETIC = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stdout, stripped; a failure raises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | HERMETIC
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd, env=env, check=True, capture_output=True, text=True,
    )
    return done.stdout.strip()


def make_repo(root: Path) -> Path:
    """An empty repository at `root` (created if needed) with a committer configured."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    return root


@attrs.define
class Repo:
    """A working tree: write files, run git, commit everything."""

    root: Path

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def commit(self, message: str = "work") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def hash_object(path: Path) -> str:
    """git's own blob id for a file's bytes."""
    return git(path.parent, "hash-object", "--no-filters", str(path))
