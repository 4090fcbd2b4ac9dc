"""`RunQuery`: the criteria that pick runs, for `Catalog.runs`, `Catalog.check` and `bth ls/find`.

Every criterion is optional. Which projects a query covers is decided here, once: the projects
named, else every project with `all_projects`, else the project the working directory lies in
(every project outside one).
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from bathos.config import find_project_file
from bathos.errors import ConfigError
from bathos.fsutil import relative_posix
from bathos.models import STATUSES
from bathos.timespec import parse_time


@attrs.frozen
class RunQuery:
    """Criteria for choosing runs; runs match all that are given, newest first.

    >>> RunQuery(since="7d", status="failed", tags=["tuning"])
    >>> RunQuery(all_projects=True, params={"lr": "0.1"}, limit=20)

    A param matches by value: `{"lr": "0.020"}` finds a run given `--lr 0.02`, `{"cuda": "false"}`
    one given `--no-cuda`, and `{"tag": "a"}` one given `--tag a --tag b`. A `script` glob matches
    the file name or the path runs record (from the repository root), and a path also as written
    from the working directory: `./scripts/x.sh`, `scripts/x.sh` and its absolute path are one.
    """

    project: str | Sequence[str] | None = None
    all_projects: bool = False
    since: str | dt.datetime | None = None
    until: str | dt.datetime | None = None
    status: str | Sequence[str] | None = None
    tags: Sequence[str] = ()
    script: str | None = None
    params: dict[str, str] = attrs.field(factory=dict)
    host: str | None = None
    commit: str | None = None
    slurm_job: str | None = None
    output: str | None = None
    campaign: str | None = None
    outcome: str | None = None
    limit: int | None = None

    def projects(self) -> list[str] | None:
        """The project slugs this query covers, or None for every project."""
        if self.project:
            return [self.project] if isinstance(self.project, str) else list(self.project)
        if self.all_projects:
            return None
        from bathos.config import find_project

        current = find_project()
        return [current.slug] if current else None

    def resolved(self) -> RunQuery:
        """This query with its projects decided (the current project looked up once)."""
        projects = self.projects()
        return attrs.evolve(self, project=projects, all_projects=projects is None)

    def statuses(self) -> list[str]:
        """The run statuses asked for ([] for any); an unknown one is a ConfigError."""
        if not self.status:
            return []
        statuses = [self.status] if isinstance(self.status, str) else list(self.status)
        unknown = sorted(set(statuses) - set(STATUSES))
        if unknown:
            raise ConfigError(
                f"unknown status {', '.join(unknown)} (choose from {', '.join(STATUSES)})"
            )
        return statuses

    def to_sql(self, columns: Sequence[str]) -> tuple[str, list[Any]]:
        """A SELECT of `columns` from the `runs` view and its `?` parameters."""
        where, args = self._where()
        sql = f"SELECT {', '.join(columns)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
        return sql, args

    def _where(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            where.append(clause)
            args.extend(values)

        projects = self.projects()
        if projects:
            add(f"project IN ({', '.join('?' * len(projects))})", *projects)
        if self.since:
            add("started_at >= ?", naive_utc(parse_time(self.since)))
        if self.until:
            add("started_at < ?", naive_utc(parse_time(self.until)))
        statuses = self.statuses()
        if statuses:
            add(f"status IN ({', '.join('?' * len(statuses))})", *statuses)
        if self.tags:
            add("list_has_all(tags, ?)", list(self.tags))
        if self.script:
            forms = script_forms(self.script)
            # `./` in front: as records before bathos recorded a command's path as a script's
            add("(" + " OR ".join(["regexp_replace(script, '^(\\./)+', '') GLOB ?"] * len(forms))
                + " OR regexp_extract(script, '[^/]*$') GLOB ?)", *forms, self.script)
        for key, value in self.params.items():
            add(*_param_match(key, value))
        if self.host:
            add("hostname GLOB ?", self.host)
        if self.commit:
            add("(starts_with(commit, ?) OR starts_with(git->>'snapshot', ?))", self.commit,
                self.commit)
        if self.slurm_job:
            job, _, task = self.slurm_job.partition("_")
            clause = "(slurm_job_id = ? OR slurm_array_job_id = ?)"
            values: list[Any] = [job, job]
            if task:
                clause = "(slurm_array_job_id = ? AND slurm_array_task_id = ?)"
                values = [job, task]
            add(clause, *values)
        if self.output:
            add("id IN (SELECT run_id FROM outputs WHERE path GLOB ? "
                "OR regexp_extract(path, '[^/]*$') GLOB ?)", self.output, self.output)
        if self.campaign:
            # its members; for a campaign the catalog does not hold, the runs that name it
            add("(id IN (SELECT run_id FROM campaign_runs WHERE campaign_id = ?) OR "
                "(campaign_id = ? AND ? NOT IN (SELECT id FROM campaigns)))", *[self.campaign] * 3)
        if self.outcome:
            add("outcome = ?", self.outcome)
        return where, args


def script_forms(script: str) -> list[str]:
    """The forms in which a script filter matches a run's recorded script: as given, `./` and
    `..` taken out; and a path (with `/`) as the file it names from the working directory,
    absolute and relative to the root runs record it from (the git repository's or project's).

    >>> script_forms("./scripts/x.sh")     # in /home/me/proj, a git repository
    ['scripts/x.sh', '/home/me/proj/scripts/x.sh']
    """
    if "/" not in script:
        return [script]
    named = os.path.realpath(script)
    root = _recording_root(Path(named).parent)
    relative = relative_posix(named, os.path.realpath(root)) if root else None
    return list(dict.fromkeys(f for f in (posixpath.normpath(script), relative, named) if f))


def _recording_root(start: Path) -> Path | None:
    """Where a run started at `start` records paths from: its git repository's root, else its
    project's (see `runner.start_run`)."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    found = find_project_file(start)
    return found.parent if found else None


def _param_match(key: str, value: str) -> tuple[Any, ...]:
    """A clause (and its arguments) true when param `key`, or any item of a list, has `value`:
    numbers by value (`0.020` is `0.02`, integers exactly), true/false in any case, any other
    text as it is; the typed values read by `param_value` from the recorded text."""
    from bathos.provenance.params import INTEGER, NUMBER, param_value

    typed = param_value(value)
    args: list[Any]
    if isinstance(typed, bool):
        test, args = "lower(v) = ?", [value.lower()]
    elif isinstance(typed, int) and abs(typed) < 2**127:  # beyond, DuckDB has no integer for it
        test = (f"(v = ? OR CASE WHEN regexp_full_match(v, '{INTEGER}') "
                f"THEN TRY_CAST(v AS HUGEINT) = ? "
                f"ELSE regexp_full_match(v, '{NUMBER}') AND TRY_CAST(v AS DOUBLE) = ? END)")
        args = [value, typed, float(typed)]
    elif isinstance(typed, int | float):
        test = f"(v = ? OR regexp_full_match(v, '{NUMBER}') AND TRY_CAST(v AS DOUBLE) = ?)"
        args = [value, float(typed)]
    else:
        test, args = "v = ?", [value]
    items = ("CASE WHEN json_type(params->?) = 'ARRAY' THEN (params->?)->>'$[*]' "
             "ELSE [params->>?] END")
    return f"len(list_filter({items}, lambda v: {test})) > 0", key, key, key, *args


def chosen(query: RunQuery | None, criteria: dict[str, Any], **defaults: Any) -> RunQuery:
    """The query a method was given, as a RunQuery or as its criteria (over `defaults`), with its
    projects decided; both at once is a ConfigError."""
    if query is not None and criteria:
        raise ConfigError("give a RunQuery or criteria as keywords, not both")
    return (query or RunQuery(**{**defaults, **criteria})).resolved()


def naive_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime as the naive UTC time the views' TIMESTAMP columns hold."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)
