"""Helpers for freshness tests: a real git repository made with the git CLI, runs recorded with
real `bth run` subprocesses, and verdicts read back through `Catalog.check`.

    proj = Project.create(tmp_path / "proj", slug="alpha")
    run_id = proj.bth_run(TRAIN, "data/input.csv", "results/out.txt")
    proj.write("physics/model.py", "...")          # change what the run depended on
    verdict = proj.verdict(run_id)                # Catalog.check([run_id]) for that run
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from gitrepo import HERMETIC, Repo

import bathos
from bathos.config import bth_home
from bathos.freshness import Reason, Verdict
from bathos.projects import init_project

STARTED = re.compile(r"bth: run (\w+) started")
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
SIDECAR_SOURCE = '[params]\nlearning_rate = "0.1"\n'


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ (with the test's BTH_HOME) and a hermetic git; children import `physics` from
    the repository root through PYTHONPATH, which the caller sets."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "GIT_")) and k not in (
               "BTH_PROJECT_SLUG", "BTH_RUN_ID", "BTH_CATALOG_DIR", "BTH_HASH_CAP_MB",
               "PYTHONPATH")}
    env.update({
        "VIRTUAL_ENV": sys.prefix,
        **HERMETIC,
    })
    env.update(extra or {})
    return env


def catalog() -> bathos.Catalog:
    return bathos.Catalog(bth_home() / "catalog")


def check(**kwargs: Any) -> bathos.CheckReport:
    """`Catalog.check` on the test's catalog."""
    return catalog().check(**kwargs)


@attrs.define
class Project(Repo):
    """A bathos project in a real git repository; `bth` runs in it as a subprocess."""

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
        init_project(root, slug=slug)
        proj.commit("initial")
        (root / "results").mkdir()
        return proj

    def bth(self, *args: str, env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bathos_cli", *args], cwd=self.root,
            env=base_env({"PYTHONPATH": str(self.root), **(env or {})}),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
        )

    def bth_run(self, *args: str, env: Mapping[str, str] | None = None, expect: int = 0) -> str:
        """`bth run ARGS`, which must exit `expect`; the full id of the run it recorded."""
        done = self.bth("run", *args, env=env)
        assert done.returncode == expect, done.stderr
        found = STARTED.search(done.stderr)
        assert found, done.stderr
        return catalog().resolve(found.group(1))

    def train(self, out: str = "results/out.txt", *, src: str = "data/input.csv",
              script: str = TRAIN, derived_from: str | None = None) -> str:
        """A run of `script` (train, by default) reading `src` and writing `out`."""
        flags = ("--derived-from", derived_from) if derived_from else ()
        return self.bth_run(*flags, script, src, out)

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
