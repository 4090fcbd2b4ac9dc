"""The remote side of sync tests: `RemoteDir`, a directory of the second user that sshd serves,
and `bth` run there as that user (as a job on the cluster would)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from sshd import Server


def remote_python_for(server: Server) -> str | None:
    """An interpreter the remote user may run that has this venv's packages on PYTHONPATH (the
    test's own may live where only root can read)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}"):
        done = server.as_remote(candidate, "-c", "import bathos_cli", env=_pythonpath(),
                                check=False)
        if done.returncode == 0:
            return candidate
    return None


def _pythonpath() -> dict[str, str]:
    import bathos_cli

    site = next(p for p in sys.path if p.endswith("site-packages"))
    return {"PYTHONPATH": os.pathsep.join([site, str(Path(bathos_cli.__file__).parents[1])])}


@attrs.frozen
class RemoteDir:
    """The remote `cluster`: a directory of the second user, its catalog, and `bth` run there
    as that user (as a job on the cluster would)."""

    server: Server
    name: str
    path: Path  # the remote's $BTH_HOME
    python: str | None

    @property
    def catalog(self) -> Path:
        return self.path / "catalog"

    def bth(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.python is None:
            pytest.skip("no interpreter the remote user may run has bathos")
        return self.server.as_remote(self.python, "-m", "bathos_cli", *args, check=check,
                                     env={**_pythonpath(), "BTH_HOME": str(self.path)})

    def popen_python(self, script: str) -> subprocess.Popen[str]:
        """`python -c script` as the remote user, with this catalog and tests/ importable."""
        if self.python is None:
            pytest.skip("no interpreter the remote user may run has bathos")
        tests = str(Path(__file__).parents[1])
        path = os.pathsep.join([_pythonpath()["PYTHONPATH"], tests])
        return subprocess.Popen(
            ["runuser", "-u", self.server.user, "--", self.python, "-c", script],
            cwd=self.server.remote_home, text=True, env={
                "HOME": str(self.server.remote_home), "PATH": os.environ["PATH"],
                "PYTHONPATH": path, "BTH_HOME": str(self.path)})


