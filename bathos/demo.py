"""The demo project behind `bth demo`: a small git project made from `examples/demo`."""

from __future__ import annotations

import shutil
from pathlib import Path

import bathos
from bathos.errors import ConfigError

DEMO_NAME = "particles"


def examples_dir() -> Path:
    """Where the example files are: inside the installed package, or beside it in a checkout."""
    here = Path(bathos.__file__).resolve().parent
    for candidate in (here / "examples", here.parent / "examples"):
        if (candidate / "demo").is_dir():
            return candidate
    raise ConfigError("the bathos examples are missing from this installation "
                             "(reinstall bathos)")


def prepare_demo_project(directory: Path, *, python: str) -> Path:
    """Copy the demo into `directory/particles`, commit it, and make it a bathos project.

    `python` is the interpreter its scripts run with (one where `import bth` works).
    """
    from bathos.projects import init_project
    from bathos.provenance.git import commit_all

    root = directory / DEMO_NAME
    if root.exists():
        raise ConfigError(f"{root} already exists (give an empty --dir)")
    shutil.copytree(examples_dir() / "demo", root,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / ".gitignore").write_text("outputs/\n__pycache__/\n")
    commit_all(root, "Particle simulation: first version")
    init_project(root, python=python)
    commit_all(root, "Track experiments with bathos")
    return root


def change_physics(root: Path) -> Path:
    """Edit the simulation's physics module (uncommitted), as a researcher would between runs."""
    path = root / "sim" / "physics.py"
    path.write_text(path.read_text().replace("DAMPING = 0.95", "DAMPING = 0.90"))
    return path
