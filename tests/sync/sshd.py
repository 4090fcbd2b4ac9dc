"""A real OpenSSH server on loopback, run as root from a scratch directory, and a second user whose
own HOME holds the "remote" catalog (so the two catalogs are really apart).

    server = start_sshd(scratch)          # None (with why) when sshd is missing or not root
    server.client_home                    # a HOME whose ~/.ssh/config names the alias `cluster`
    server.stop()

The client side is a HOME of its own too: `~/.ssh/config` there gives the alias `cluster`
(HostName 127.0.0.1, the port, the user and the key), `~/.ssh/known_hosts` holds the server's
key. `benchmarks/bench_sync.py` uses the same server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import attrs

SSHD = "/usr/sbin/sshd"
REMOTE_USER = "bthremote"


@attrs.frozen
class Server:
    """A running sshd and the two sides of it."""

    scratch: Path
    port: int
    pid: int
    user: str
    remote_home: Path  # the second user's HOME
    client_home: Path  # the HOME a test's client runs with
    client_key: Path
    host_key_line: str  # the known_hosts line of the server's key

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 15)

    def as_remote(self, *args: str, env: dict[str, str] | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command as the remote user (in its HOME), as a job on the cluster would."""
        return subprocess.run(["runuser", "-u", self.user, "--", *args], cwd=self.remote_home,
                              env={"HOME": str(self.remote_home), "PATH": os.environ["PATH"],
                                   **(env or {})},
                              capture_output=True, text=True, check=check)


def why_not() -> str | None:
    """Why no sshd can be started here, or None."""
    if not Path(SSHD).exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "starting sshd and a second user needs root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_user(name: str) -> Path:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
        entry = pwd.getpwnam(name)
    # A locked password makes sshd refuse the user without PAM; '*' unlocks key logins only.
    subprocess.run(["usermod", "-p", "*", name], check=True)
    return Path(entry.pw_dir)


def _authorize(home: Path, user: str, key: str) -> None:
    """Let `key` log in as `user` (sshd reads the file as that user, so it lives in its HOME)."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(key)
    shutil.chown(ssh_dir, user, user)
    shutil.chown(ssh_dir / "authorized_keys", user, user)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def start_sshd(scratch: Path, user: str = REMOTE_USER) -> Server:
    """Start sshd on a free loopback port, serving `user` by key only."""
    scratch.mkdir(parents=True, exist_ok=True)
    remote_home = _ensure_user(user)
    for leftover in ("catalog", ".bth"):  # from an earlier session
        shutil.rmtree(remote_home / leftover, ignore_errors=True)
    _keygen(scratch / "host_ed25519")
    _keygen(scratch / "client_ed25519")
    _authorize(remote_home, user, (scratch / "client_ed25519.pub").read_text())
    Path("/run/sshd").mkdir(exist_ok=True)
    port = _free_port()
    (scratch / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {scratch}/host_ed25519
PidFile {scratch}/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
StrictModes no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
MaxSessions 50
MaxStartups 50
Subsystem sftp internal-sftp
""")
    subprocess.run([SSHD, "-t", "-f", str(scratch / "sshd_config")], check=True)
    subprocess.run([SSHD, "-f", str(scratch / "sshd_config"), "-E", str(scratch / "sshd.log")],
                   check=True)
    pidfile = scratch / "sshd.pid"
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    host_key = (scratch / "host_ed25519.pub").read_text().split()
    client_home = scratch / "client-home"
    ssh_dir = client_home / ".ssh"
    ssh_dir.mkdir(parents=True)
    key = ssh_dir / "id_ed25519"
    shutil.copy(scratch / "client_ed25519", key)
    key.chmod(0o600)
    line = f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}"
    (ssh_dir / "known_hosts").write_text(line + "\n")
    (ssh_dir / "config").write_text(
        f"Host cluster\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
        f"  IdentityFile {key}\n  UserKnownHostsFile {ssh_dir / 'known_hosts'}\n")
    return Server(scratch=scratch, port=port, pid=int(pidfile.read_text()), user=user,
                  remote_home=remote_home, client_home=client_home, client_key=key,
                  host_key_line=line)
