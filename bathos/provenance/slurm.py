"""The SLURM job a run belongs to: read from the variables SLURM sets in the job's environment
when the run starts (no scheduler call: `bth run` starts as fast inside a job as outside), and
asked of the scheduler (`scontrol`, else `sacct`) only when a signal ends the run or `bth reap`
settles a run whose process is gone."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from collections.abc import Iterable, Mapping

import attrs

from bathos.models import Slurm
from bathos.timespec import as_utc

log = logging.getLogger("bathos.slurm")

# Set by the job script `bth submit` writes: what SLURM's environment does not say.
SUBMIT_TIME_VAR = "BTH_SLURM_SUBMIT_TIME"
TIME_LIMIT_VAR = "BTH_SLURM_TIME_LIMIT"
JOB_SCRIPT_VAR = "BTH_SLURM_JOB_SCRIPT"
SCHEDULER_TIMEOUT_S = 5.0
# A warning signal (`#SBATCH --signal=B:USR1@60`) this close to the job's end is its time limit
# coming; SLURM sends it up to a minute early, and a `--signal` may ask for more.
WARNING_WINDOW_S = 15 * 60

# The scheduler's final job states, and the run status each means.
ENDED_STATES = {
    "COMPLETED": "completed", "FAILED": "failed", "OUT_OF_MEMORY": "failed",
    "TIMEOUT": "timeout", "DEADLINE": "timeout", "CANCELLED": "cancelled",
    "PREEMPTED": "cancelled", "NODE_FAIL": "lost", "BOOT_FAIL": "lost",
}
_SAYS = {
    "TIMEOUT": "ended by its time limit", "DEADLINE": "ended by its deadline",
    "CANCELLED": "cancelled", "PREEMPTED": "preempted", "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot", "OUT_OF_MEMORY": "ran out of memory",
    "FAILED": "failed", "COMPLETED": "completed",
}


def capture_slurm(environ: Mapping[str, str],
                  started_at: dt.datetime | None = None) -> Slurm | None:
    """The job described by `environ`, or None outside a SLURM job (no `SLURM_JOB_ID`).

    `mem` gets SLURM's implicit unit: `SLURM_MEM_PER_NODE=16000` is recorded as `16000M`. The
    submit time and time limit come from the job script `bth submit` writes; with `started_at`
    they give the job's wait in the queue.
    """
    job_id = _get(environ, "SLURM_JOB_ID")
    if job_id is None:
        return None
    mem = _get(environ, "SLURM_MEM_PER_NODE", "SLURM_MEM_PER_CPU")
    submitted = _time(_get(environ, SUBMIT_TIME_VAR))
    return Slurm(
        job_id=job_id,
        array_job_id=_get(environ, "SLURM_ARRAY_JOB_ID"),
        array_task_id=_get(environ, "SLURM_ARRAY_TASK_ID"),
        partition=_get(environ, "SLURM_JOB_PARTITION"),
        node_list=_get(environ, "SLURM_JOB_NODELIST", "SLURM_NODELIST"),
        cpus=_get(environ, "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE"),
        mem=f"{mem}M" if mem is not None and mem.isdigit() else mem,
        job_name=_get(environ, "SLURM_JOB_NAME"),
        cluster=_get(environ, "SLURM_CLUSTER_NAME"),
        gpus=_get(environ, "SLURM_GPUS", "SLURM_GPUS_PER_TASK", "SLURM_GPUS_ON_NODE"),
        time_limit=_get(environ, TIME_LIMIT_VAR),
        submit_time=submitted,
        queue_wait_s=_seconds(submitted, started_at),
        job_script=_get(environ, JOB_SCRIPT_VAR),
    )


def _get(environ: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` that is set and not blank."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


@attrs.frozen
class JobInfo:
    """What the scheduler says of one job (a task of an array is a job of its own)."""

    job_id: str
    state: str  # PENDING, RUNNING, COMPLETING, TIMEOUT, CANCELLED, NODE_FAIL …
    reason: str | None = None  # why it is in that state: TimeLimit, NodeDown …
    exit_code: int | None = None
    signal: int | None = None  # the signal that ended its batch script, 0 for none
    submit_time: dt.datetime | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    time_limit: str | None = None
    node_list: str | None = None
    array_job_id: str | None = None
    array_task_id: str | None = None  # `0-9` for tasks still pending as one

    @property
    def has_ended(self) -> bool:
        """Whether the job is over: in a final state, its processes gone."""
        return self.state in ENDED_STATES

    @property
    def status(self) -> str | None:
        """The run status the job's state means, or None while it has not ended. A job being
        killed (COMPLETING) by its time limit has timed out already."""
        if self.state == "COMPLETING" and self.reason == "TimeLimit":
            return "timeout"
        return ENDED_STATES.get(self.state)

    @property
    def says(self) -> str:
        """The scheduler's word on how the job ended, for a run's `error`."""
        state = "TIMEOUT" if self.status == "timeout" and self.state == "COMPLETING" else (
            self.state)
        limit = f", limit {self.time_limit}" if state == "TIMEOUT" and self.time_limit else ""
        return f"SLURM: job {self.job_id} {_SAYS.get(state, state.lower())} ({state}{limit})"

    def remaining_s(self, now: dt.datetime) -> float | None:
        """Seconds left before the job's time limit ends it, if the scheduler says."""
        return _seconds(now, self.end_time)

    def into(self, slurm: Slurm) -> Slurm:
        """`slurm` with what the scheduler adds to it."""
        status = self.status
        return attrs.evolve(
            slurm, time_limit=self.time_limit or slurm.time_limit,
            submit_time=self.submit_time or slurm.submit_time,
            start_time=self.start_time or slurm.start_time,
            queue_wait_s=_seconds(self.submit_time, self.start_time) or slurm.queue_wait_s,
            node_list=slurm.node_list or self.node_list,
            state=("TIMEOUT" if status == "timeout" and self.state == "COMPLETING"
                   else self.state) if status else slurm.state,
            reason=self.reason if status else slurm.reason,
        )


def query_jobs(job_ids: Iterable[str], *, environ: Mapping[str, str] | None = None,
               ) -> dict[str, JobInfo]:
    """What the scheduler says of each of `job_ids` it still knows: `scontrol show job` (the
    jobs slurmctld holds, finished ones for `MinJobAge`), then `sacct` for the others (when
    accounting is on). Jobs neither knows are left out; no scheduler at all gives {}."""
    wanted = list(dict.fromkeys(job_ids))
    if not wanted:
        return {}
    found: dict[str, JobInfo] = {}
    one = wanted[0] if len(wanted) == 1 else None
    out = _ask(["scontrol", "show", "job", "-o", *([one] if one else [])], environ)
    for line in (out or "").splitlines():
        info = read_scontrol_line(line)
        if info is not None and info.job_id in wanted:
            found[info.job_id] = info
    missing = [job for job in wanted if job not in found]
    if missing:
        out = _ask(["sacct", "-n", "-P", "-X", "-j", ",".join(missing), "--format",
                    "JobID,State,Reason,ExitCode,Submit,Start,End,Timelimit,NodeList"], environ)
        for line in (out or "").splitlines():
            info = read_sacct_line(line)
            if info is not None and info.job_id in missing:
                found[info.job_id] = info
    return found


def query_job(job_id: str, *, environ: Mapping[str, str] | None = None) -> JobInfo | None:
    """What the scheduler says of one job, or None when it does not answer."""
    return query_jobs([job_id], environ=environ).get(job_id)


def job_tasks(job_id: str, *, environ: Mapping[str, str] | None = None) -> list[JobInfo]:
    """Every task of job `job_id` (one, unless it is an array) that `scontrol` knows, by task
    id; [] when it knows none."""
    out = _ask(["scontrol", "show", "job", "-o", job_id], environ)
    tasks = [info for line in (out or "").splitlines() if (info := read_scontrol_line(line))]
    return sorted(tasks, key=lambda t: (len(t.array_task_id or ""), t.array_task_id or ""))


def _ask(argv: list[str], environ: Mapping[str, str] | None) -> str | None:
    """The output of a scheduler command, or None when it is missing, fails or hangs."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=SCHEDULER_TIMEOUT_S, stdin=subprocess.DEVNULL,
                              env=None if environ is None else dict(environ))
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("%s did not answer: %s", argv[0], exc)
        return None
    if done.returncode != 0:
        log.debug("%s failed: %s", argv[0], done.stderr.strip())
        return None
    return done.stdout


def read_scontrol_line(line: str) -> JobInfo | None:
    """A job from one line of `scontrol show job -o` (`Key=value` pairs)."""
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    job_id, state = fields.get("JobId"), fields.get("JobState")
    if not job_id or not state:
        return None
    code, signum = _exit_code(fields.get("ExitCode"))
    return JobInfo(
        job_id=job_id, state=state, reason=_value(fields.get("Reason")), exit_code=code,
        signal=signum, submit_time=_time(fields.get("SubmitTime")),
        start_time=_time(fields.get("StartTime")), end_time=_time(fields.get("EndTime")),
        time_limit=_value(fields.get("TimeLimit")), node_list=_value(fields.get("NodeList")),
        array_job_id=_value(fields.get("ArrayJobId")),
        array_task_id=_value(fields.get("ArrayTaskId")),
    )


def read_sacct_line(line: str) -> JobInfo | None:
    """A job from one `sacct -P` line (the fields `query_jobs` asks for)."""
    parts = line.split("|")
    if len(parts) != 9 or not parts[0] or not parts[1]:
        return None
    job_id, state, reason, exit_code, submit, start, end, limit, nodes = parts
    code, signum = _exit_code(exit_code)
    return JobInfo(
        job_id=job_id, state=state.split()[0],  # "CANCELLED by 1000"
        reason=_value(reason) or (state if " by " in state else None), exit_code=code,
        signal=signum, submit_time=_time(submit), start_time=_time(start), end_time=_time(end),
        time_limit=_value(limit), node_list=_value(nodes),
    )


def _value(text: str | None) -> str | None:
    return None if text in (None, "", "None", "(null)", "Unknown", "N/A") else text


def _exit_code(text: str | None) -> tuple[int | None, int | None]:
    """`3:0` as (3, 0): the batch script's exit code and the signal that ended it."""
    code, _, signum = (text or "").partition(":")
    return (int(code) if code.isdigit() else None, int(signum) if signum.isdigit() else None)


def _time(text: str | None) -> dt.datetime | None:
    """A scheduler time (the controller's local time, no zone) or an ISO time, in UTC."""
    if _value(text) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return as_utc(parsed if parsed.tzinfo else parsed.astimezone())


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)
