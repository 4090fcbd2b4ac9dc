"""A bathos project directory in which `bth`, `python` and `git` run as real subprocesses, and the
run each `bth run` recorded, read back through `bathos.Catalog`.

    proj = make_project(tmp_path / "proj", {"scripts/experiments/hello.py": "print('hello')\n"})
    run = proj.bth_run("scripts/experiments/hello.py")     # a real `bth run`, read back
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
from gitrepo import HERMETIC, Repo, make_repo

from bathos import Catalog, Run
from bathos.projects import init_project

BIN_DIR = str(Path(sys.executable).parent)
STARTED = re.compile(r"bth: run (\w+) started")
# Set by a run, a test or the user's shell; a child sees them only when a test passes them.
NOT_INHERITED = ("BTH_PROJECT_SLUG", "BTH_RUN_ID", "BTH_CATALOG_DIR", "BTH_RESULTS_PATH",
                 "BTH_OUTPUT_DIR", "BTH_HASH_CAP_MB", "PYTHONPATH")

Env = Mapping[str, str | None]
# Tests of anything but sidecars run scripts in scripts/experiments/ without one, in projects whose
# .bth.toml requires none (tests/run/test_run_sidecar.py runs the default).
NO_SIDECAR_REQUIRED = "\n[sidecar]\nrequired = []\n"
# A valid sidecar for a script whose run nothing is decided on: its one outcome is the residual.
SIDECAR = """\
[experiment]
hypothesis = "the script runs to its end"
stage = "exploration"

[outcomes.ran]
is_residual = true
decision = "nothing to decide"
"""


def base_env(extra: Env | None = None) -> dict[str, str]:
    """os.environ (which carries the test's BTH_HOME) without SLURM, git or run variables, with a
    hermetic git, and with this venv first on PATH and active, so `import bth` works in children;
    then `extra`, where None removes a variable.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "GIT_")) and k not in NOT_INHERITED}
    env.update({
        "PATH": BIN_DIR + os.pathsep + os.environ.get("PATH", os.defpath),
        "VIRTUAL_ENV": sys.prefix,
        **HERMETIC,
    })
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@attrs.frozen
class Done:
    """A finished `bth` (or python) process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def run_id(self) -> str:
        found = STARTED.search(self.stderr)
        assert found, f"no run started:\n{self.stderr}"
        return found.group(1)

    def run(self) -> Run:
        return Catalog().get(self.run_id)


@attrs.define
class Project(Repo):
    """A project directory; `bth`/`python` run in it as subprocesses."""

    def python(self, *args: str, env: Env | None = None) -> Done:
        return self._run([sys.executable, *args], env)

    def bth(self, *args: str, env: Env | None = None, cwd: Path | None = None) -> Done:
        return self._run([sys.executable, "-m", "bathos_cli", *args], env, cwd)

    def bth_run(self, *args: str, env: Env | None = None, expect: int = 0) -> Run:
        """`bth run ARGS` that must exit `expect`; the run it recorded."""
        done = self.bth("run", *args, env=env)
        assert done.returncode == expect, done.stderr
        return done.run()

    def popen(self, *args: str, env: Env | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bathos_cli", *args], cwd=self.root,
                                env=base_env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @staticmethod
    def wait(proc: subprocess.Popen[bytes]) -> Done:
        """The outcome of a process started with `popen`."""
        out, err = proc.communicate(timeout=120)
        return Done(proc.returncode, out.decode(), err.decode())

    def _run(self, argv: list[str], env: Env | None, cwd: Path | None = None) -> Done:
        done = subprocess.run(argv, cwd=cwd or self.root, env=base_env(env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, check=False)
        return Done(done.returncode, done.stdout, done.stderr)


def init_test_project(root: Path, *, sidecars_required: bool = False, **options: Any) -> None:
    """`init_project(root, **options)`; unless `sidecars_required`, no directory of the project
    requires a sidecar."""
    init_project(root, **options)
    if not sidecars_required:
        with (root / ".bth.toml").open("a", encoding="utf-8") as fh:
            fh.write(NO_SIDECAR_REQUIRED)


def make_project(root: Path, files: Mapping[str, str], *,
                 sidecars_required: bool = False) -> Project:
    """A clean git repository at `root`, initialised for bathos, with `files` committed; unless
    `sidecars_required`, no directory of it requires a sidecar."""
    proj = Project(make_repo(root))
    for relpath, text in files.items():
        proj.write(relpath, text)
    init_test_project(proj.root, sidecars_required=sidecars_required)
    proj.commit("initial")
    return proj
