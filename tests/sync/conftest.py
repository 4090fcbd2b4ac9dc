"""A real sshd on loopback for the whole session (skipped, with the reason, where it cannot run),
and for each test a fresh remote directory in the second user's HOME, named `cluster` in the
test's $BTH_HOME/config.toml."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import Server, start_sshd, why_not
from sync_helpers import RemoteDir, remote_python_for, traversable_by_others

import bathos


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    why = why_not()
    if why:
        pytest.skip(why)
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def remote_python(sshd: Server) -> Iterator[str | None]:
    with traversable_by_others():
        yield remote_python_for(sshd)


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
