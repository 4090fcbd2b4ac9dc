"""A real single-node SLURM cluster: munged, slurmctld and slurmd configured in a scratch
directory, on free ports, as `/work/shared/recipes/SLURM.md` sets one up. It needs root and the
Debian packages slurmctld slurmd slurm-client munge (`why_not` says what is missing).

    cluster = Cluster(Path(tempfile.mkdtemp()))
    start(cluster)
    job_id = cluster.sbatch("--wrap", "true", cwd=tmp_path, env=dict(os.environ))
    cluster.wait(job_id)
    stop(cluster)
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from bathos.provenance.slurm import JobInfo, query_job
from bathos.submission import wait_for_job

BINARIES = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo")
MUNGE_KEY = Path("/etc/munge/munge.key")
# KillWait: seconds between the SIGTERM of a time limit or scancel and the SIGKILL (30 on most
# clusters). SlurmdTimeout: how soon a silent node is down. JobRequeue=0: a job on a failed node
# ends NODE_FAIL instead of queueing again. CPUs beyond the machine's (config_overrides) let
# many short tasks run at once.
CONF = """\
ClusterName=bthtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={root}/state/ctld
SlurmdSpoolDir={root}/state/d
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=5
OverTimeLimit=0
SlurmdTimeout=5
JobRequeue=0
NodeName=localhost CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,defer=no
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.log
MinJobAge=3600
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def why_not() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "the SLURM tests start munged, slurmctld and slurmd, which needs root"
    missing = [b for b in BINARIES if shutil.which(b) is None and
               not Path("/usr/sbin", b).exists()]
    if missing:
        return (f"{', '.join(missing)} not installed (apt-get install slurmctld slurmd "
                "slurm-client munge)")
    if not MUNGE_KEY.exists():
        return f"{MUNGE_KEY} is missing (mungekey --create)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no munge user (install the munge package)"
    return None


def _daemon(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@attrs.define
class Cluster:
    """The running cluster: its scratch directory and the environment its clients need."""

    root: Path

    @property
    def conf(self) -> str:
        return str(self.root / "slurm.conf")

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": self.conf}

    def command(self, *argv: str, check: bool = True) -> str:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30,
                              check=False, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed: {done.stderr}")
        return done.stdout

    def sbatch(self, *args: str, cwd: Path, env: dict[str, str]) -> str:
        """Submit a job with `env` (the job's environment, plus SLURM_CONF); its id."""
        done = subprocess.run(["sbatch", "--parsable", *args], cwd=cwd,
                              env={**env, "SLURM_CONF": self.conf}, capture_output=True,
                              text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> JobInfo:
        info = query_job(job_id, environ=self.env)
        assert info is not None, f"the scheduler does not know job {job_id}"
        return info

    def wait(self, job_id: str, timeout_s: float = 150) -> list[JobInfo]:
        """Every task of the job, once all have ended."""
        return wait_for_job(job_id, poll_s=0.3, timeout_s=timeout_s, environ=self.env)

    def wait_until(self, job_id: str, test: Callable[[JobInfo], bool],
                   timeout_s: float = 60) -> JobInfo:
        """The job once `test(info)` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.job(job_id)
            if test(info):
                return info
            assert time.monotonic() < deadline, f"job {job_id} stayed {info.state}"
            time.sleep(0.3)

    def start_slurmd(self) -> None:
        subprocess.run([_daemon("slurmd"), "-f", self.conf, "-N", "localhost"], env=self.env,
                       check=True, timeout=30)
        self._until_idle()

    def kill_node(self, job_id: str) -> None:
        """The node dies under a running job: slurmd, the job's slurmstepd and every process of
        the job are SIGKILLed at once, as a power cut would."""
        listed = self.command("scontrol", "listpids", job_id).split("\n")[1:]
        pids = [int(line.split()[0]) for line in listed if line.strip()]
        pids += [pid for pid in _stepds(self.root)
                 if _cmdline(Path(f"/proc/{pid}")).startswith(f"slurmstepd: [{job_id}.")]
        pids.append(int((self.root / "slurmd.pid").read_text()))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _until_idle(self) -> None:
        deadline = time.monotonic() + 30
        while self.command("sinfo", "-h", "-o", "%T", check=False).strip() != "idle":
            assert time.monotonic() < deadline, (self.root / "slurmd.log").read_text()[-2000:]
            time.sleep(0.3)


def start(cluster: Cluster) -> None:
    """munged, slurmctld and slurmd on free ports, configured in the cluster's root; returns
    once the node is idle."""
    root = cluster.root
    root.chmod(0o755)  # munged runs as the munge user
    for sub in ("state/ctld", "state/d", "munge"):
        (root / sub).mkdir(parents=True)
    shutil.chown(root / "munge", "munge", "munge")
    Path(cluster.conf).write_text(CONF.format(root=root, ctld_port=_free_port(),
                                              d_port=_free_port()))
    subprocess.run(["runuser", "-u", "munge", "--", _daemon("munged"),
                    f"--socket={root}/munge/munge.socket", f"--pid-file={root}/munge/munged.pid",
                    f"--log-file={root}/munge/munged.log", f"--seed-file={root}/munge/seed"],
                   check=True, timeout=30)
    subprocess.run([_daemon("slurmctld"), "-f", cluster.conf], env=cluster.env, check=True,
                   timeout=30)
    cluster.start_slurmd()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""




def stop(cluster: Cluster) -> None:
    """scancel, then scontrol shutdown, then munged; a daemon still up after that is ended by
    the pid it wrote."""
    cluster.command("scancel", "--full", f"--user={pwd.getpwuid(os.geteuid()).pw_name}",
                    check=False)
    deadline = time.monotonic() + 20  # KillWait, and the jobs' slurmstepd gone
    while cluster.command("squeue", "-h", check=False).strip() and time.monotonic() < deadline:
        time.sleep(0.3)
    cluster.command("scontrol", "shutdown", check=False)
    for name in ("slurmctld.pid", "slurmd.pid", "munge/munged.pid"):
        _end(cluster.root / name, asked=not name.startswith("munge"))
    for pid in _stepds(cluster.root):  # left by a slurmd killed under its job
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(cluster.root, ignore_errors=True)


def _stepds(root: Path) -> list[int]:
    """The slurmstepd processes of this cluster (working in its root), by their pids."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _cmdline(proc).startswith("slurmstepd:"):
            with contextlib.suppress(OSError):
                if os.readlink(proc / "cwd").removesuffix(" (deleted)") == str(root):
                    found.append(int(proc.name))
    return found


def _end(pid_file: Path, *, asked: bool) -> None:
    """Wait for the daemon of `pid_file` to end (SIGTERM it unless it was `asked` to, or
    after 10 s)."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + (10 if asked else 0)
    with contextlib.suppress(ProcessLookupError):
        while True:
            os.kill(pid, 0 if time.monotonic() < deadline else signal.SIGTERM)
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + 10
            time.sleep(0.2)
