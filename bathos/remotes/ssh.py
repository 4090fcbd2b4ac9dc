"""SSH and SFTP, the only module that imports paramiko (fabric's transport): which host a remote
names, checking its key, logging in, and the catalog's files over SFTP (`SFTPFiles`).

- The host, port, user and key files come from `~/.ssh/config` when it names the host (an alias
  works as with `ssh`); `UserKnownHostsFile` too, else `~/.ssh/known_hosts`; and `ProxyCommand`
  or `ProxyJump` (through `ssh -W`, for a cluster reached through a login node).
- The host's key must be in a known_hosts file: an unknown one is refused with its fingerprint
  (HostKeyUnknown), unless accepting new keys was asked for, which appends it to the first
  known_hosts file; a key that differs from the one recorded is always refused.
- Login is by key only, from ssh-agent and key files; nothing ever prompts (no passwords, no
  passphrases: a key that needs one must be in the agent).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import paramiko

from bathos.config import Remote
from bathos.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    RemoteDirMissing,
    RemoteDiskFull,
    RemoteUnreachable,
    RemoteUnwritable,
    SyncError,
)
from bathos.fsutil import append_whole
from bathos.remotes.files import Entry

CONNECT_TIMEOUT_S = 15.0


@attrs.frozen
class Target:
    """Where a remote's host really is, as ssh would connect to it."""

    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    known_hosts: tuple[Path, ...]
    proxy_command: str | None = None  # ProxyCommand, or ProxyJump as `ssh -W` through it

    @property
    def key_name(self) -> str:
        """The host's name in known_hosts (`[host]:port` off port 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def resolve(host: str) -> Target:
    """`[user@]host` resolved through `~/.ssh/config` as ssh does (HostName, Port, User,
    IdentityFile, UserKnownHostsFile)."""
    import getpass

    user, _, name = host.rpartition("@")
    found: dict[str, Any] = {}
    path = Path("~/.ssh/config").expanduser()
    if path.is_file():
        try:
            found = dict(paramiko.SSHConfig.from_path(str(path)).lookup(name))
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise SyncError(host, f"cannot read {path}: {exc}") from None
    known = tuple(Path(p).expanduser() for p in str(
        found.get("userknownhostsfile", "~/.ssh/known_hosts")).split())
    proxy = found.get("proxycommand")
    if proxy is None and found.get("proxyjump"):
        import shlex

        # -F: ssh reads the config of the passwd entry's home, not of $HOME
        proxy = (f"ssh -F {shlex.quote(str(path))} -o BatchMode=yes -W %h:%p "
                 f"{shlex.quote(str(found['proxyjump']).split(',')[0])}")
    hostname = str(found.get("hostname", name))
    port = int(found.get("port", 22))
    if proxy:
        proxy = str(proxy).replace("%h", hostname).replace("%p", str(port))
    return Target(
        hostname=hostname,
        port=port,
        user=user or str(found.get("user") or getpass.getuser()),
        identity_files=tuple(str(Path(p).expanduser()) for p in found.get("identityfile", [])
                             if Path(p).expanduser().is_file()),
        known_hosts=known,
        proxy_command=None if proxy in (None, "none") else str(proxy),
    )


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:…`, as ssh prints a key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _NewKeys(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Refuse a host whose key no known_hosts holds, or with `accept` record it."""

    def __init__(self, remote: str, target: Target, accept: bool) -> None:
        self.remote, self.target, self.accept = remote, target, accept

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if not self.accept:
            raise HostKeyUnknown(self.remote, hostname, fingerprint(key))
        path = self.target.known_hosts[0]
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        append_whole(path, line.encode())


@attrs.define
class Session:
    """A logged-in SSH connection and its SFTP channel."""

    remote: Remote
    target: Target
    client: paramiko.SSHClient
    sftp: paramiko.SFTPClient

    def close(self) -> None:
        self.client.close()

    def run(self, command: str, timeout: float = 10.0) -> str | None:
        """The output of a shell command on the host, or None if it failed (used only to learn
        about the host; a sync never needs it)."""
        try:
            _, out, _ = self.client.exec_command(command, timeout=timeout)
            text = out.read().decode(errors="replace").strip()
            return text if out.channel.recv_exit_status() == 0 else None
        except (paramiko.SSHException, OSError):
            return None


def connect(remote: Remote, *, accept_new_host_key: bool = False) -> Session:
    """Log in to the remote's host; one SyncError line for each way that can fail."""
    target = resolve(remote.host)
    client = paramiko.SSHClient()
    for path in target.known_hosts:
        if path.is_file():
            try:
                client.load_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise SyncError(remote.name, f"cannot read known hosts {path}: {exc}") from None
    client.set_missing_host_key_policy(_NewKeys(remote.name, target, accept_new_host_key))
    where = f"{target.user}@{target.hostname}:{target.port}"
    try:
        sock = paramiko.ProxyCommand(target.proxy_command) if target.proxy_command else None
        client.connect(target.hostname, port=target.port, username=target.user, sock=sock,
                       key_filename=list(target.identity_files) or None, allow_agent=True,
                       look_for_keys=True, timeout=CONNECT_TIMEOUT_S,
                       banner_timeout=CONNECT_TIMEOUT_S, auth_timeout=CONNECT_TIMEOUT_S)
        return Session(remote, target, client, client.open_sftp())
    except BaseException as exc:
        client.close()
        if isinstance(exc, SyncError):
            raise
        raise _connect_error(remote.name, where, exc) from None


def _connect_error(name: str, where: str, exc: BaseException) -> BaseException:
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyChanged(name, f"the host key of {where} is not the one known_hosts holds "
                              f"(now {fingerprint(exc.key)}): refused; if the host was really "
                              "re-keyed, remove its old line from known_hosts (ssh-keygen -R)")
    if isinstance(exc, paramiko.PasswordRequiredException):
        return AuthenticationFailed(name, f"{where}: the key needs a passphrase (add it to "
                                    "ssh-agent; bathos never prompts)")
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthenticationFailed(name, f"{where} refused every key offered (ssh-agent and "
                                    "key files; check that your public key is in the remote's "
                                    "~/.ssh/authorized_keys and IdentityFile in ~/.ssh/config)")
    if isinstance(exc, socket.gaierror):
        return RemoteUnreachable(name, f"cannot resolve host {where.split('@')[1]}: "
                                 f"{exc.strerror} (check the remote's host name)")
    if isinstance(exc, OSError | paramiko.SSHException | EOFError):
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return RemoteUnreachable(name, f"cannot connect to {where}: {why}")
    return exc


def remote_root(session: Session) -> str:
    """The remote's path, absolute (`~` is the login directory); RemoteDirMissing if it is not
    a directory."""
    path = session.remote.path
    relative = "." if path in ("~", "~/") else path[2:] if path.startswith("~/") else path
    try:
        absolute = str(session.sftp.normalize(relative))
        attrs_ = session.sftp.stat(absolute)
    except OSError:
        raise RemoteDirMissing(session.remote.name, f"{session.remote.spec} does not exist on "
                               f"{session.target.hostname} (create it there, or fix the remote: "
                               "its path is the remote's $BTH_HOME or catalog)") from None
    import stat

    if not stat.S_ISDIR(attrs_.st_mode or 0):
        raise RemoteDirMissing(session.remote.name, f"{session.remote.spec} is not a directory")
    return absolute


class SFTPFiles:
    """A catalog on the remote's host, through SFTP; SFTP errors become SyncErrors."""

    def __init__(self, session: Session, root: str) -> None:
        self.sftp = session.sftp
        self.name = session.remote.name
        self.root = root.rstrip("/") or "/"
        self.where = f"{session.target.hostname}:{self.root}"

    def _path(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    @contextlib.contextmanager
    def _errors(self, path: str, doing: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            raise
        except PermissionError:
            raise RemoteUnwritable(self.name, f"cannot {doing} {self.where}/{path}: permission "
                                   "denied (is the remote's catalog yours, and writable?)"
                                   ) from None
        except OSError as exc:
            if exc.errno is None and doing == "write" and (
                    "Failure" in str(exc) or "size mismatch" in str(exc)):
                raise RemoteDiskFull(self.name, f"{self.where} refused to store {path} (its "
                                     "disk is full, or you are over quota): nothing "
                                     "half-written is left; free space and sync again"
                                     ) from None
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RemoteDiskFull(self.name, f"{self.where} is full: {exc}") from None
            if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT):
                raise RemoteUnreachable(self.name, f"the connection to {self.where} was lost "
                                        f"({exc.strerror}): sync again to finish") from None
            raise SyncError(self.name, f"cannot {doing} {self.where}/{path}: {exc}") from None
        except (EOFError, paramiko.SSHException) as exc:
            raise RemoteUnreachable(self.name, f"the connection to {self.where} was lost "
                                    f"({exc or type(exc).__name__}): sync again to finish"
                                    ) from None

    def list(self, path: str) -> dict[str, Entry]:
        import stat

        with self._errors(path, "list"):
            try:
                found = self.sftp.listdir_attr(self._path(path))
            except FileNotFoundError:
                return {}
        return {a.filename: Entry(a.st_size or 0, float(a.st_mtime or 0),
                                  stat.S_ISDIR(a.st_mode or 0)) for a in found}

    def read(self, path: str, limit: int) -> bytes:
        with self._errors(path, "read"), self.sftp.open(self._path(path), "rb") as fh:
            fh.prefetch()
            data: bytes = fh.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"{self.where}/{path} is larger than {limit} bytes")
        return data

    def open(self, path: str) -> IO[bytes]:
        with self._errors(path, "read"):
            fh = self.sftp.open(self._path(path), "rb")
        fh.set_pipelined(True)
        return fh  # type: ignore[no-any-return]

    def write(self, path: str, data: bytes | Path, *, mtime: float | None = None) -> int:
        final = self._path(path)
        head, _, name = final.rpartition("/")
        tmp = f"{head}/.{name}.{os.urandom(4).hex()}.tmp"
        parent = path.rpartition("/")[0]
        try:
            with self._errors(path, "write"):
                try:
                    self.sftp.stat(self._path(parent))
                except FileNotFoundError:
                    self.mkdirs(parent)
                # confirm: a write the remote's disk cut short shows as a size that differs
                if isinstance(data, bytes):
                    import io

                    size = self.sftp.putfo(io.BytesIO(data), tmp, len(data), confirm=True
                                           ).st_size or 0
                else:
                    size = self.sftp.put(str(data), tmp, confirm=True).st_size or 0
                if mtime is not None:
                    self.sftp.utime(tmp, (mtime, mtime))
                self.sftp.posix_rename(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.sftp.remove(tmp)
            raise
        return size

    def mkdirs(self, path: str) -> None:
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            sub = "/".join(parts[:n])
            with self._errors(sub, "write"):
                try:
                    self.sftp.mkdir(self._path(sub))
                except OSError as exc:
                    try:
                        self.sftp.stat(self._path(sub))  # there already
                    except OSError:
                        raise exc from None

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError), self._errors(path, "write"):
            self.sftp.remove(self._path(path))

    def round_trip(self) -> float:
        """The seconds one SFTP request takes (what `bth remote test` calls latency)."""
        started = time.perf_counter()
        with self._errors("", "read"):
            self.sftp.stat(self.root)
        return time.perf_counter() - started
