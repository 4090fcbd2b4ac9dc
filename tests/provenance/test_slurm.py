"""capture_slurm: a job read from the variables SLURM sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bathos.models import Slurm
from bathos.provenance.slurm import capture_slurm, query_jobs, read_sacct_line, read_scontrol_line

# What `sbatch --array=0-9 --cpus-per-task=4 --mem=16G` shows task 3 of job 4821337.
ARRAY_TASK_ENV = {
    "SLURM_JOB_ID": "4821341",
    "SLURM_ARRAY_JOB_ID": "4821337",
    "SLURM_ARRAY_TASK_ID": "3",
    "SLURM_ARRAY_TASK_COUNT": "10",
    "SLURM_ARRAY_TASK_MIN": "0",
    "SLURM_ARRAY_TASK_MAX": "9",
    "SLURM_JOB_PARTITION": "gpu",
    "SLURM_JOB_NODELIST": "node[017-018]",
    "SLURM_NODELIST": "node[017-018]",
    "SLURM_CPUS_PER_TASK": "4",
    "SLURM_JOB_CPUS_PER_NODE": "4(x2)",
    "SLURM_MEM_PER_NODE": "16384",
    "SLURM_JOB_NAME": "sweep-lr",
    "SLURM_CLUSTER_NAME": "hpc2",
    "SLURM_SUBMIT_DIR": "/home/ada/project",
    "HOME": "/home/ada",
}


def test_array_task() -> None:
    assert capture_slurm(ARRAY_TASK_ENV) == Slurm(
        job_id="4821341",
        array_job_id="4821337",
        array_task_id="3",
        partition="gpu",
        node_list="node[017-018]",
        cpus="4",
        mem="16384M",
        job_name="sweep-lr",
        cluster="hpc2",
    )


def test_outside_a_job_is_none() -> None:
    assert capture_slurm({"HOME": "/home/ada", "SLURM_CONF": "/etc/slurm/slurm.conf"}) is None
    assert capture_slurm({"SLURM_JOB_ID": "  "}) is None


def test_fallback_variables_and_units() -> None:
    slurm = capture_slurm(
        {
            "SLURM_JOB_ID": "77",
            "SLURM_NODELIST": "c01",
            "SLURM_JOB_CPUS_PER_NODE": "8",
            "SLURM_MEM_PER_CPU": "4G",
        }
    )
    assert slurm == Slurm(job_id="77", node_list="c01", cpus="8", mem="4G")


def test_mem_per_cpu_number_gets_megabytes() -> None:
    slurm = capture_slurm({"SLURM_JOB_ID": "77", "SLURM_MEM_PER_CPU": "2000"})
    assert slurm is not None
    assert slurm.mem == "2000M"


# `scontrol show job -o` of task 0 of an array while its time limit ends it (Slurm 22.05).
ENDING_BY_TIME_LIMIT = (
    "JobId=3 ArrayJobId=2 ArrayTaskId=0 JobName=env.sh UserId=ada(1000) GroupId=ada(1000) "
    "Priority=4294901758 Nice=0 Account=(null) QOS=(null) JobState=COMPLETING Reason=TimeLimit "
    "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 "
    "RunTime=00:01:07 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-12-01T13:53:37 "
    "EligibleTime=2026-12-01T13:53:40 AccrueTime=Unknown StartTime=2026-12-01T13:53:40 "
    "EndTime=2026-12-01T13:54:47 Deadline=N/A Partition=debug NodeList=node07 BatchHost=node07 "
    "NumNodes=1 NumCPUs=1 TRES=cpu=1,node=1,billing=1 Command=/home/ada/job.sh")


def test_a_job_ending_by_its_time_limit_has_timed_out() -> None:
    info = read_scontrol_line(ENDING_BY_TIME_LIMIT)

    assert info is not None
    assert (info.job_id, info.array_job_id, info.array_task_id) == ("3", "2", "0")
    assert (info.state, info.reason, info.status) == ("COMPLETING", "TimeLimit", "timeout")
    assert (info.exit_code, info.signal, info.time_limit) == (0, 15, "00:01:00")
    assert not info.has_ended  # its processes are still being killed
    assert info.submit_time is not None and info.start_time is not None
    assert (info.start_time - info.submit_time).total_seconds() == 3
    assert info.says == "SLURM: job 3 ended by its time limit (TIMEOUT, limit 00:01:00)"
    merged = info.into(Slurm(job_id="3", node_list="node07"))
    assert (merged.state, merged.reason, merged.queue_wait_s) == ("TIMEOUT", "TimeLimit", 3.0)


def test_states_the_scheduler_ends_jobs_in() -> None:
    def status(state: str, reason: str = "None") -> str | None:
        info = read_scontrol_line(f"JobId=9 JobState={state} Reason={reason} ExitCode=0:0")
        assert info is not None
        return info.status

    assert status("RUNNING") is None and status("PENDING") is None
    assert status("COMPLETING") is None  # ending, but not yet said how
    assert [status(s) for s in ("COMPLETED", "FAILED", "OUT_OF_MEMORY", "TIMEOUT", "CANCELLED",
                                "PREEMPTED", "NODE_FAIL")] == [
        "completed", "failed", "failed", "timeout", "cancelled", "cancelled", "lost"]


def test_sacct_lines_are_read_too() -> None:
    info = read_sacct_line("4821341|CANCELLED by 1000|None|0:15|2026-12-01T10:00:00|"
                       "2026-12-01T10:05:00|2026-12-01T11:00:00|02:00:00|node017")

    assert info is not None
    assert (info.job_id, info.state, info.status) == ("4821341", "CANCELLED", "cancelled")
    assert info.reason == "CANCELLED by 1000"
    assert (info.exit_code, info.signal, info.node_list) == (0, 15, "node017")
    assert read_sacct_line("garbage") is None
    assert read_scontrol_line("No jobs in the system") is None


def test_without_a_scheduler_nothing_is_known(tmp_path: Path) -> None:
    assert query_jobs(["77"], environ={"PATH": str(tmp_path)}) == {}
    assert query_jobs([]) == {}


def test_the_submit_time_from_bth_submit_gives_the_queue_wait() -> None:
    started = dt.datetime(2026, 12, 1, 10, 0, 30, tzinfo=dt.UTC)
    slurm = capture_slurm({"SLURM_JOB_ID": "77", "BTH_SLURM_SUBMIT_TIME": "2026-12-01T10:00:00Z",
                           "BTH_SLURM_TIME_LIMIT": "1:00:00", "SLURM_GPUS_ON_NODE": "2"},
                          started)
    assert slurm is not None
    assert (slurm.queue_wait_s, slurm.time_limit, slurm.gpus) == (30.0, "1:00:00", "2")
