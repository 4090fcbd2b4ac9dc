"""Where a run executed: host name, user, process id and the CPUs it may use."""

from __future__ import annotations

import getpass
import os

from bathos.models import Host


def capture_host() -> Host:
    """The current host; `cpu_count` is the CPUs this process may run on (SLURM/cgroup aware)."""
    return Host(
        hostname=os.uname().nodename,
        user=_user(),
        pid=os.getpid(),
        cpu_count=_cpu_count(),
    )


def author() -> str:
    """Who writes a catalog change from this process: `user@host`."""
    return f"{_user()}@{os.uname().nodename}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # a container uid with no passwd entry and no $USER
        return str(os.getuid())


def _cpu_count() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()
