"""Helpers for freshness tests: a real git repository made with the git CLI, runs recorded with
real `bth run` subprocesses (tests/project.py), and verdicts read back through `Catalog.check`.

    proj = Project.create(tmp_path / "proj", slug="alpha")
    run_id = proj.train("results/out.txt")          # `bth run` of TRAIN on data/input.csv
    proj.write("physics/model.py", "...")          # change what the run depended on
    verdict = proj.verdict(run_id)                # Catalog.check([run_id]) for that run
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import project

import bathos
from bathos.config import bth_home
from bathos.freshness import Reason, Verdict

TRAIN = "scripts/experiments/train.py"
TRAIN_SOURCE = '''\
"""Read an input file, write a result scaled by the model."""
import sys

from physics import model

with open(sys.argv[1]) as fh:
    text = fh.read()
with open(sys.argv[2], "w") as fh:
    fh.write(f"{model.scale(len(text))}\\n")
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
'''
SUMMARISE = "scripts/analysis/summarise.py"
SUMMARISE_SOURCE = '''\
"""Copy an input file to a result, upper-cased; imports nothing local."""
import sys

with open(sys.argv[1]) as fh:
    text = fh.read()
with open(sys.argv[2], "w") as fh:
    fh.write(text.upper())
'''
MODEL_SOURCE = "def scale(n):\n    return n * 2\n"
CHANGED_MODEL = "def scale(n):\n    return n * 3\n"  # same size: only the content differs
UNITS_SOURCE = "METRE = 1.0\n"
SIDECAR_SOURCE = project.SIDECAR


def catalog() -> bathos.Catalog:
    return bathos.Catalog(bth_home() / "catalog")


def check(**kwargs: Any) -> bathos.CheckReport:
    """`Catalog.check` on the test's catalog."""
    return catalog().check(**kwargs)


@attrs.define
class Project(project.Project):
    """A bathos project in a real git repository, whose scripts import its local `physics`
    package (on PYTHONPATH in every `bth` it runs)."""

    @classmethod
    def create(cls, root: Path, slug: str = "alpha") -> Project:
        """A committed repository with a script importing a local package, its sidecar, a
        script importing nothing local, and an input file; initialised as project `slug`."""
        root.mkdir(parents=True)
        proj = cls(root)
        proj.git("init", "-q")
        proj.write(TRAIN, TRAIN_SOURCE)
        proj.write("scripts/experiments/train.bth.toml", SIDECAR_SOURCE)
        proj.write(SUMMARISE, SUMMARISE_SOURCE)
        proj.write("physics/__init__.py", "from physics import units\n")
        proj.write("physics/model.py", MODEL_SOURCE)
        proj.write("physics/units.py", UNITS_SOURCE)
        proj.write("data/input.csv", "x,y\n1,2\n")
        proj.write("README.md", "# a project\n")
        proj.write(".gitignore", "results/\noutputs/\n")
        project.init_test_project(root, slug=slug)
        proj.commit("initial")
        (root / "results").mkdir()
        return proj

    def bth(self, *args: str, env: project.Env | None = None,
            cwd: Path | None = None) -> project.Done:
        return super().bth(*args, env={"PYTHONPATH": str(self.root), **(env or {})}, cwd=cwd)

    def train(self, out: str = "results/out.txt", *, src: str = "data/input.csv",
              script: str = TRAIN, derived_from: str | None = None) -> str:
        """A run of `script` (train, by default) reading `src` and writing `out`."""
        flags = ("--derived-from", derived_from) if derived_from else ()
        return self.bth_run(*flags, script, src, out).id

    def summarise(self, out: str, *, src: str = "data/input.csv",
                  derived_from: str | None = None) -> str:
        """A run of the summarise script, which depends on no local module."""
        return self.train(out, src=src, script=SUMMARISE, derived_from=derived_from)

    def verdict(self, run_id: str, **kwargs: Any) -> Verdict:
        """The verdict of one run, judged by `Catalog.check`."""
        (verdict,) = check(runs=[run_id], **kwargs).verdicts
        return verdict


def reason_for(verdict: Verdict, path: str) -> Reason:
    """The one reason that names `path`."""
    found = [r for r in verdict.reasons if r.path == path]
    assert len(found) == 1, verdict.reasons
    return found[0]
