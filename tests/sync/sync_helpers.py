"""The remote side of sync tests: `RemoteDir`, a directory of the second user that sshd serves,
and `bth` run there as that user (as a job on the cluster would)."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
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


@contextlib.contextmanager
def traversable_by_others() -> Iterator[None]:
    """Let the remote user import this venv's packages and bathos's source, for the session:
    each directory above them that others may not enter (a clone under /root, or in a mode-700
    temporary directory, as CI makes) gets o+x, the directories on the path o+rx (Python lists
    them to import), and each its mode back afterwards."""
    changed: dict[Path, int] = {}
    try:
        for top in map(Path, _pythonpath()["PYTHONPATH"].split(os.pathsep)):
            for directory, need in [(top, stat.S_IROTH | stat.S_IXOTH),
                                    *((d, stat.S_IXOTH) for d in top.parents)]:
                mode = stat.S_IMODE(directory.stat().st_mode)
                if mode & need != need:
                    changed.setdefault(directory, mode)
                    directory.chmod(mode | need)
        yield
    finally:
        for directory, mode in changed.items():
            directory.chmod(mode)


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


