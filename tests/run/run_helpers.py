"""Helpers for tracked-execution tests: a project directory in which `bth`, `python` and `git` run
as real subprocesses, and the run each `bth run` recorded, read back through `bathos.Catalog`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
from gitrepo import Repo

from bathos import Catalog, Run

BIN_DIR = str(Path(sys.executable).parent)
STARTED = re.compile(r"bth: run (\w+) started")
HELLO = "print('hello')\n"


def base_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """os.environ (which carries the test's BTH_HOME) without SLURM or run variables, with a
    hermetic git, and with this venv first on PATH and active, so `import bth` works in children.
    """
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("SLURM_") and k not in ("BTH_PROJECT_SLUG", "BTH_RUN_ID",
                                                     "BTH_CATALOG_DIR", "BTH_RESULTS_PATH",
                                                     "BTH_OUTPUT_DIR", "PYTHONPATH")
    }
    env.update({
        "PATH": BIN_DIR + os.pathsep + os.environ.get("PATH", os.defpath),
        "VIRTUAL_ENV": sys.prefix,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
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

    def python(self, *args: str, env: Mapping[str, str | None] | None = None) -> Done:
        return self._run([sys.executable, *args], env)

    def bth(self, *args: str, env: Mapping[str, str | None] | None = None,
            cwd: Path | None = None) -> Done:
        return self._run([sys.executable, "-m", "bathos_cli", *args], env, cwd)

    def bth_run(self, *args: str, env: Mapping[str, str | None] | None = None,
                expect: int = 0) -> Run:
        """`bth run ARGS` that must exit `expect`; the run it recorded."""
        done = self.bth("run", *args, env=env)
        assert done.returncode == expect, done.stderr
        return done.run()

    def popen(self, *args: str, env: Mapping[str, str | None] | None = None,
              ) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bathos_cli", *args], cwd=self.root,
                                env=base_env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @staticmethod
    def wait(proc: subprocess.Popen[bytes]) -> Done:
        """The outcome of a process started with `popen`."""
        out, err = proc.communicate(timeout=120)
        return Done(proc.returncode, out.decode(), err.decode())

    def _run(self, argv: list[str], env: Mapping[str, str | None] | None,
             cwd: Path | None = None) -> Done:
        done = subprocess.run(argv, cwd=cwd or self.root, env=base_env(env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, check=False)
        return Done(done.returncode, done.stdout, done.stderr)


