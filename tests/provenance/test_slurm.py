"""capture_slurm: a job read from the variables SLURM sets."""

from __future__ import annotations

from bathos.models import Slurm
from bathos.provenance.slurm import capture_slurm

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
