"""Submitting a tracked script to SLURM: a job script that sources the project's
`scripts/slurm/_bth_env.sh` and `exec`s `bth run`, kept in the catalog and submitted with `sbatch`.

    job = submit_job(JobSpec(target="scripts/experiments/train.py", args=("--lr", "0.1"),
                             array="0-9", time="1:00:00"))
    tasks = wait_for_job(job.job_id)       # every task's JobInfo once all have ended

The job script is written under `<catalog>/jobs/<project>/` (its tasks' SLURM logs go beside it)
and stored as a blob, whose reference every task's run records (`Slurm.job_script`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from bathos import config
from bathos.catalog import blobs
from bathos.errors import ConfigError, ProvenanceError
from bathos.fsutil import atomic_write_bytes
from bathos.models import utcnow
from bathos.provenance.slurm import (
    JOB_SCRIPT_VAR,
    SUBMIT_TIME_VAR,
    TIME_LIMIT_VAR,
    JobInfo,
    job_tasks,
)
from bathos.timespec import iso_utc

_OPTIONS = {"partition": "--partition", "time": "--time", "cpus": "--cpus-per-task",
            "mem": "--mem", "gres": "--gres", "array": "--array"}


@attrs.frozen
class JobSpec:
    """A script (or command) to run under `bth run` as a SLURM batch job. Resources not given
    come from `.bth.toml [slurm]`; `sbatch_args` are passed to sbatch as they are."""

    target: str
    args: tuple[str, ...] = ()
    cwd: Path = attrs.field(factory=Path.cwd)
    array: str | None = None
    partition: str | None = None
    time: str | None = None
    cpus: str | None = None
    mem: str | None = None
    gres: str | None = None
    sbatch_args: tuple[str, ...] = ()
    run_args: tuple[str, ...] = ()  # options for `bth run` itself (--tag, --name …)


@attrs.frozen
class Submission:
    """A submitted job: its id (the array's job id for an array), the job script and its blob,
    and the catalog its runs are recorded in."""

    job_id: str
    catalog: Path
    script: Path
    job_script: str
    sbatch: tuple[str, ...]


def submit_job(spec: JobSpec, *, environ: Mapping[str, str] | None = None) -> Submission:
    """Write the job script and submit it with sbatch; ConfigError outside a bathos project or
    without sbatch, ProvenanceError when sbatch refuses the job (its message says why)."""
    environ = os.environ if environ is None else environ
    project = config.find_project(spec.cwd)
    if project is None:
        raise ConfigError(f"{spec.cwd} is not inside a bathos project: a job's runs need one "
                          "(its scripts/slurm/_bth_env.sh)", hint="bth init")
    helper = project.root / "scripts" / "slurm" / "_bth_env.sh"
    if not helper.is_file():
        raise ConfigError(f"{helper} is missing", hint="bth init writes it again")
    bad = [a for a in spec.sbatch_args if not a.startswith("-")]
    if bad:
        raise ConfigError(f"sbatch argument {bad[0]!r} is not an option (give it as "
                          "--name=value)")
    catalog = config.catalog_dir(project).resolve()
    resources = _resources(spec, project)
    data = job_script(spec, helper, resources).encode()
    ref = blobs.put_blob(catalog, data)
    jobs = catalog / "jobs" / project.slug
    name = Path(spec.target).stem or "job"
    script = jobs / f"{name}-{ref[7:19]}.sh"
    atomic_write_bytes(script, data, durable=False)
    log_name = f"{name}-%A_%a.out" if spec.array else f"{name}-%j.out"
    argv = ("sbatch", "--parsable", f"--output={jobs / log_name}", *spec.sbatch_args, str(script))
    env = {**environ, SUBMIT_TIME_VAR: iso_utc(utcnow()), JOB_SCRIPT_VAR: ref,
           "BTH_CATALOG_DIR": str(catalog)}
    if "time" in resources:
        env[TIME_LIMIT_VAR] = resources["time"]
    try:
        done = subprocess.run(argv, cwd=spec.cwd, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False, timeout=60)
    except FileNotFoundError:
        raise ConfigError("sbatch is not on PATH: bth submit runs where SLURM jobs are "
                          "submitted (a cluster's login node)") from None
    except subprocess.TimeoutExpired:
        raise ProvenanceError("sbatch did not answer within 60 s (is slurmctld up?)") from None
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise ProvenanceError(f"sbatch refused the job: {said[-1] if said else done.returncode}")
    job_id = done.stdout.strip().split(";")[0]
    return Submission(job_id=job_id, catalog=catalog, script=script, job_script=ref, sbatch=argv)


def job_script(spec: JobSpec, helper: Path, resources: Mapping[str, str]) -> str:
    """The batch script for `spec`: its `resources` as #SBATCH lines, the bathos environment,
    then `bth run` in place of the shell (so SLURM's signals reach it)."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={Path(spec.target).stem or 'job'}"]
    lines += [f"#SBATCH {_OPTIONS[key]}={value}"
              for key, value in resources.items()]
    run = ["bth", "run", *spec.run_args, spec.target, "--", *spec.args]
    lines += ["# written by bth submit: the project's environment, then the tracked run",
              f"source {shlex.quote(str(helper))} || exit 1",
              f"cd {shlex.quote(str(spec.cwd.resolve()))} || exit 1",
              "exec " + shlex.join(run)]
    return "\n".join(lines) + "\n"


def _resources(spec: JobSpec, project: config.ProjectConfig) -> dict[str, str]:
    """What the job asks for: the spec's values, else the project's `[slurm]` defaults."""
    defaults = dict(project.slurm_defaults)
    if project.slurm_partition:
        defaults["partition"] = project.slurm_partition
    asked = {key: getattr(spec, key) or defaults.get(key) for key in _OPTIONS}
    return {key: str(value) for key, value in asked.items() if value}


def wait_for_job(job_id: str, *, poll_s: float = 1.0, timeout_s: float | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 environ: Mapping[str, str] | None = None) -> list[JobInfo]:
    """Every task of job `job_id` once all have ended, by task id (`on_progress(ended,
    total)` after each look); ProvenanceError after `timeout_s`, or when the scheduler does
    not know the job."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        tasks = job_tasks(job_id, environ=environ)
        if not tasks:
            raise ProvenanceError(f"the scheduler does not know job {job_id} (check: scontrol "
                                  "show job; finished jobs are forgotten after MinJobAge)")
        ended = [t for t in tasks if t.has_ended]
        if on_progress is not None:
            on_progress(len(ended), len(tasks))
        if len(ended) == len(tasks):
            return tasks
        if deadline is not None and time.monotonic() > deadline:
            raise ProvenanceError(f"job {job_id}: {len(tasks) - len(ended)} of {len(tasks)} "
                                  f"tasks still not ended after {timeout_s:g} s")
        time.sleep(poll_s)

