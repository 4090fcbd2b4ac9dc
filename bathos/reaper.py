"""Settling runs whose `bth run` is gone, so none stays `running` forever (`Catalog.reap`).

A run with a SLURM job id is settled as the scheduler says its job ended (`scontrol`, else
`sacct`): `timeout`, `cancelled`, `failed` (out of memory …), `completed`, or `lost` when its node
failed, with the job's exit code, end time and reason. A run the scheduler cannot account for is
`lost` when its process is known dead (on this host, by pid) or its heartbeat stopped; a run
written `lost` that way is settled again once the scheduler knows how its job ended.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from bathos.catalog import store
from bathos.catalog.schema import Record
from bathos.errors import UnreadableFile
from bathos.models import Run, structure_run, utcnow
from bathos.provenance.slurm import JobInfo, query_jobs


@attrs.frozen
class Reaped:
    """A run `reap` settled (or, dry, would settle): the status it now has, and why."""

    run_id: str
    project: str
    was: str  # its status on disk before: running, or lost awaiting the scheduler's word
    status: str
    reason: str
    job_id: str | None = None


@attrs.frozen
class _Candidate:
    path: Path
    stat: os.stat_result
    run: Run


def reap(catalog: Path, projects: Sequence[str] | None = None, *, dry_run: bool = False,
         now: dt.datetime | None = None) -> list[Reaped]:
    """Settle the runs of `projects` (None: every project) whose process is gone; with
    `dry_run`, only say what would be settled. A run its `bth run` finishes meanwhile is left
    as that wrote it."""
    now = now or utcnow()
    candidates = list(_candidates(catalog, projects))
    jobs = query_jobs(c.run.slurm.job_id for c in candidates if c.run.slurm is not None)
    reaped = []
    for candidate in candidates:
        run = candidate.run
        info = jobs.get(run.slurm.job_id) if run.slurm is not None else None
        verdict = _judge(run, candidate.stat.st_mtime, info, now)
        if verdict is None:
            continue
        status, reason = verdict
        if not dry_run:
            if not store.is_unchanged(candidate.path, candidate.stat):
                continue  # its bth run (or another reap) wrote it since
            store.write_run(catalog, _settled(run, status, reason, info, candidate.stat, now))
            if status == "lost":
                store.remove_dead_scratch(run.id)
        reaped.append(Reaped(run.id, run.project, run.status, status, reason,
                             run.slurm.job_id if run.slurm else None))
    return reaped


def _candidates(catalog: Path, projects: Sequence[str] | None) -> Iterator[_Candidate]:
    """The hot runs written `running`, and those written `lost` whose job's end the scheduler
    had not told yet."""
    directories = ([store.project_dir(catalog, p) for p in projects] if projects is not None
                   else store.project_dirs(catalog))
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in store.iter_fragment_paths(directory):
            try:
                record, stat = store.read_fragment(path)
            except (FileNotFoundError, UnreadableFile):
                continue  # compacted away, or for `bth verify` to report
            if _is_candidate(record):
                yield _Candidate(path, stat, structure_run(record))


def _is_candidate(record: Record) -> bool:
    slurm = record.get("slurm") or {}
    return record.get("status") == "running" or (
        record.get("status") == "lost" and bool(slurm.get("job_id")) and not slurm.get("state"))


def _judge(run: Run, heartbeat: float, info: JobInfo | None,
           now: dt.datetime) -> tuple[str, str] | None:
    """The status a run gone from its process should have and why; None to leave it."""
    if info is not None and info.has_ended and info.status is not None:
        return info.status, info.says  # not while COMPLETING: its bth run may be writing
    if run.status == "lost":
        return None  # still waiting for the scheduler's word
    still = (f"; SLURM shows job {info.job_id} {info.state}" if info is not None else "")
    host = run.host
    if (host is not None and host.hostname == os.uname().nodename and host.pid > 0
            and not store.is_pid_alive(host.pid)):
        return "lost", f"its bth run (pid {host.pid} on {host.hostname}) is gone{still}"
    age = now.timestamp() - heartbeat
    if age > store.STALE_AFTER_S:
        return "lost", f"no heartbeat for {age / 60:.0f} min{still}"
    return None


def _settled(run: Run, status: str, reason: str, info: JobInfo | None,
             stat: os.stat_result, now: dt.datetime) -> Run:
    """`run` as it ended: as the scheduler says when its job has ended, else at its last
    heartbeat."""
    heartbeat = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
    final = info if info is not None and info.has_ended else None
    ended = (final.end_time if final else None) or heartbeat
    signum = final.signal if final else None
    exit_code = final.exit_code if final and not signum else None
    return attrs.evolve(
        run, status=status,  # type: ignore[arg-type]
        ended_at=ended, updated_at=now, heartbeat_at=heartbeat,
        duration_s=round(max(0.0, (ended - run.started_at).total_seconds()), 6),
        exit_code=exit_code if exit_code is not None else run.exit_code,
        signal=_signal_name(signum) or run.signal,
        error=reason if run.status == "lost" else run.error or reason,
        slurm=final.into(run.slurm) if final and run.slurm is not None else run.slurm,
    )


def _signal_name(signum: int | None) -> str | None:
    if not signum:
        return None
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
