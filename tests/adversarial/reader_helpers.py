"""Helpers for the catalog-reader attacks: a committed project whose `bth` runs as a real
process, and the check every command's outcome must pass."""

from __future__ import annotations

import sys
from pathlib import Path

from gitrepo import make_repo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))
from run_helpers import Done, Project

from bathos.projects import init_project

__all__ = ["Done", "Project", "make_project", "ok"]


def make_project(root: Path, scripts: dict[str, str]) -> Project:
    """A clean git repository at `root`, initialised for bathos, with `scripts` committed."""
    proj = Project(make_repo(root))
    for relpath, text in scripts.items():
        proj.write(relpath, text)
    init_project(proj.root)
    proj.commit("initial")
    return proj


def ok(done: Done) -> Done:
    """`done`, which must have exited 0 without a traceback."""
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done
