"""A real sshd on loopback for the whole session (skipped, with the reason, where it cannot run),
and for each test a fresh remote directory in the second user's HOME, named `cluster` in the
test's $BTH_HOME/config.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from sshd import Server, start_sshd, why_not

import bathos


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    why = why_not()
    if why:
        pytest.skip(why)
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def _remote_python(server: Server) -> str | None:
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


@pytest.fixture(scope="session")
def remote_python(sshd: Server) -> str | None:
    return _remote_python(sshd)


@pytest.fixture
def remote(sshd: Server, remote_python: str | None, bth_home: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteDir]:
    """`cluster`, an empty directory `~/r-<random>` of the remote user; the client runs with
    the HOME whose ~/.ssh/config names the alias, and no ssh-agent."""
    name = f"r-{os.urandom(4).hex()}"
    sshd.as_remote("mkdir", name)
    monkeypatch.setenv("HOME", str(sshd.client_home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (sshd.client_home / ".ssh" / "known_hosts").write_text(sshd.host_key_line + "\n")
    bathos.add_remote("cluster", f"cluster:{name}", scope="user")
    yield RemoteDir(sshd, "cluster", sshd.remote_home / name, remote_python)
    subprocess.run(["rm", "-rf", str(sshd.remote_home / name)], check=False)
