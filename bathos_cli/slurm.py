"""`bth submit`: a tracked script as a SLURM batch job (or array)."""

from __future__ import annotations

import sys

import click

from bathos_cli import render


@click.command("submit")
@click.option("--array", help="Array task ids, as sbatch takes them: 0-9, 1,3,5, 0-99%10.")
@click.option("--partition", help="Partition (default: .bth.toml [slurm] partition).")
@click.option("--time", "time_", metavar="T", help="Time limit: 30, 1:00:00, 1-12 (default: "
              ".bth.toml [slurm] time, else the partition's).")
@click.option("--cpus", help="CPUs per task (default: .bth.toml [slurm] cpus).")
@click.option("--mem", help="Memory per node: 4G, 16000 (default: .bth.toml [slurm] mem).")
@click.option("--gres", help="Generic resources: gpu:1 (default: .bth.toml [slurm] gres).")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, metavar="ARG",
              help="One more sbatch argument, as --name=value (repeatable).")
@click.option("--name", help="A name for the job's runs.")
@click.option("--tag", "tags", multiple=True, help="Tag the job's runs (repeatable).")
@click.option("--wait", is_flag=True, help="Wait for every task to end, and print how each "
              "ended; exit 1 unless all completed.")
@click.argument("target", metavar="SCRIPT|COMMAND")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def submit(target: str, args: tuple[str, ...], array: str | None, partition: str | None,
           time_: str | None, cpus: str | None, mem: str | None, gres: str | None,
           sbatch_args: tuple[str, ...], name: str | None, tags: tuple[str, ...],
           wait: bool) -> None:
    """Submit SCRIPT to SLURM with sbatch, each task run and recorded by `bth run`.

    \b
      bth submit scripts/experiments/sweep.py --array 0-9 --time 30 -- --lr 0.1

    The script's own arguments go after --.
    The job script (kept in the catalog, recorded by each task's run) sources
    scripts/slurm/_bth_env.sh and execs bth run, which records a task its time limit ends as
    `timeout` and one scancel ends as `cancelled`. Prints the job id.
    """
    from bathos.catalog.catalog import Catalog
    from bathos.submission import JobSpec, submit_job, wait_for_job

    run_args = (*(("--name", name) if name else ()), *(a for t in tags for a in ("--tag", t)))
    spec = JobSpec(target=target, args=args, array=array, partition=partition, time=time_,
                   cpus=cpus, mem=mem, gres=gres, sbatch_args=sbatch_args, run_args=run_args)
    job = submit_job(spec)
    click.echo(job.job_id)
    click.echo(f"bth: submitted job {job.job_id} ({job.script})", err=True)
    if not wait:
        return
    with render.progress(f"job {job.job_id}") as on_progress:
        tasks = wait_for_job(job.job_id, on_progress=on_progress)
    runs = {row["slurm_job_id"]: row for row in Catalog(job.catalog).runs(
        slurm_job=job.job_id, all_projects=True).to_dicts()}
    render.echo_table(["task", "job", "state", "exit", "run", "status"], [
        [t.array_task_id or "-", t.job_id, t.state, render.cell(t.exit_code),
         runs[t.job_id]["id"][:render.SHORT_ID] if t.job_id in runs else "-",
         runs[t.job_id]["status"] if t.job_id in runs else "not recorded"] for t in tasks],
        styles={"status": render.style_status})
    sys.exit(0 if all(t.state == "COMPLETED" for t in tasks) else 1)
