"""The SLURM job a run belongs to, read from the variables SLURM sets in the job's environment."""

from __future__ import annotations

from collections.abc import Mapping

from bathos.models import Slurm


def capture_slurm(environ: Mapping[str, str]) -> Slurm | None:
    """The job described by `environ`, or None outside a SLURM job (no `SLURM_JOB_ID`).

    `mem` gets SLURM's implicit unit: `SLURM_MEM_PER_NODE=16000` is recorded as `16000M`.
    """
    job_id = _get(environ, "SLURM_JOB_ID")
    if job_id is None:
        return None
    mem = _get(environ, "SLURM_MEM_PER_NODE", "SLURM_MEM_PER_CPU")
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
    )


def _get(environ: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` that is set and not blank."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None
