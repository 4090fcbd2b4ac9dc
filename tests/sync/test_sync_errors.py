"""`bth sync` refusing what it should: unknown and changed host keys, keys the host refuses, hosts
it cannot reach, remote directories missing, unwritable or full. One line each, its exit code,
and nothing half-written on either side."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from project import base_env
from records import make_run
from sync_helpers import RemoteDir

import bathos


def bth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bathos_cli", *args], env=base_env(),
                          capture_output=True, text=True, timeout=120)


def one_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


def visible_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_unknown_host_key_is_refused_until_accepted(catalog: bathos.Catalog,
                                                       remote: RemoteDir) -> None:
    catalog.write(make_run())
    known = remote.server.client_home / ".ssh" / "known_hosts"
    known.write_text("")
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(remote.server.scratch / "host_ed25519")],
        capture_output=True, text=True, check=True).stdout.split()[1]

    refused = one_error(bth("sync", "cluster", "-p", "demo"), 3)
    assert fingerprint in refused and "--accept-new-host-key" in refused
    assert visible_files(remote.path) == []

    assert bth("sync", "cluster", "-p", "demo", "--accept-new-host-key").returncode == 0
    assert f"[127.0.0.1]:{remote.server.port} ssh-ed25519" in known.read_text()
    assert bth("sync", "cluster", "-p", "demo").returncode == 0  # known from now on


def test_a_changed_host_key_is_refused_even_when_accepting_new_ones(
        catalog: bathos.Catalog, remote: RemoteDir, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "impostor")], check=True)
    key = (tmp_path / "impostor.pub").read_text().split()
    known = remote.server.client_home / ".ssh" / "known_hosts"
    known.write_text(f"[127.0.0.1]:{remote.server.port} {key[0]} {key[1]}\n")

    line = one_error(bth("sync", "cluster", "-p", "demo", "--accept-new-host-key"), 3)
    assert "not the one known_hosts holds" in line
    assert key[1] in known.read_text()  # never replaced


def test_a_key_the_host_refuses_is_an_authentication_error(
        remote: RemoteDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "other-home"
    (home / ".ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(home / ".ssh" / "id_ed25519")], check=True)
    shutil.copy(remote.server.client_home / ".ssh" / "known_hosts", home / ".ssh")
    config = (remote.server.client_home / ".ssh" / "config").read_text()
    (home / ".ssh" / "config").write_text(config.replace(str(remote.server.client_key),
                                                         str(home / ".ssh" / "id_ed25519")))
    monkeypatch.setenv("HOME", str(home))

    line = one_error(bth("sync", "cluster", "--all-projects"), 3)
    assert "refused every key" in line


def test_a_host_that_cannot_be_reached(remote: RemoteDir) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = remote.server.client_home / ".ssh" / "config"
    config.write_text(config.read_text() + f"\nHost nowhere\n  HostName 127.0.0.1\n"
                      f"  Port {port}\n")
    bathos.add_remote("nowhere", "nowhere:x", scope="user")

    line = one_error(bth("sync", "nowhere", "--all-projects"), 3)
    assert f"cannot connect to {os.environ.get('USER', 'root')}@127.0.0.1:{port}" in line \
        or "cannot connect to" in line


def test_a_remote_directory_that_does_not_exist(catalog: bathos.Catalog,
                                                remote: RemoteDir) -> None:
    bathos.add_remote("typo", "cluster:no-such-dir", scope="user")
    catalog.write(make_run())

    line = one_error(bth("sync", "typo", "-p", "demo"), 1)
    assert "no-such-dir does not exist" in line
    assert not (remote.server.remote_home / "no-such-dir").exists()


def test_a_remote_directory_that_cannot_be_written(catalog: bathos.Catalog,
                                                   remote: RemoteDir) -> None:
    catalog.write(make_run())
    remote.path.chmod(0o555)

    line = one_error(bth("sync", "cluster", "-p", "demo"), 1)
    assert "permission denied" in line
    assert visible_files(remote.path) == []


def test_a_full_remote_disk_leaves_nothing_half_written(catalog: bathos.Catalog,
                                                        remote: RemoteDir) -> None:
    uid = remote.server.as_remote("id", "-u").stdout.strip()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=96k,uid={uid}", "tmpfs",
                              str(remote.path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        for n in range(400):
            catalog.write(make_run(params={"n": str(n), "padding": os.urandom(300).hex()}))

        line = one_error(bth("sync", "cluster", "-p", "demo"), 1)
        assert "disk is full" in line
        assert [p for p in visible_files(remote.path) if p.suffix == ".parquet"] == []
        assert [p for p in visible_files(remote.path) if p.name.endswith(".tmp")] == []
    finally:
        subprocess.run(["umount", str(remote.path)], check=False)


def test_a_host_behind_a_login_node_is_reached_through_proxyjump(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    config = remote.server.client_home / ".ssh" / "config"
    config.write_text(config.read_text() + f"\nHost behind\n  HostName 127.0.0.1\n"
                      f"  Port {remote.server.port}\n  User {remote.server.user}\n"
                      f"  IdentityFile {remote.server.client_key}\n  ProxyJump cluster\n")
    bathos.add_remote("behind", f"behind:{remote.path.name}", scope="user")
    catalog.write(make_run())

    assert catalog.sync("behind", project="demo").runs == 1
