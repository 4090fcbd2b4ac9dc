"""`bth check`: is each result still valid, and which change made it stale?"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from bathos_cli import options, render

EXIT_STALE = 1
_ORDER = ("stale", "stale-upstream", "unknown", "fresh")


def _line(verdict: Any, verbose: bool) -> list[str]:
    first = verdict.reasons[0].describe() if verdict.reasons else ""
    changed = [o for o in verdict.outputs if o.state != "ok"]
    if changed and not first:
        first = f"output {changed[0].path} {changed[0].state}"
    head = f"  {verdict.run_id[: render.SHORT_ID]}  {verdict.script or '-'}  {first}".rstrip()
    if not verbose:
        return [head]
    extra = [f"      {r.describe()}" for r in verdict.reasons[1:]]
    extra += [f"      output {o.path}: {o.state}" for o in verdict.outputs]
    return [head, *extra]


def _echo_report(report: Any, verbose: bool) -> None:
    for kind in _ORDER:
        group = [v for v in report.verdicts if v.verdict == kind]
        if not group:
            continue
        click.secho(f"{kind} ({len(group)})", fg=render.STYLES[kind], bold=True)
        click.echo("\n".join(line for verdict in group for line in _line(verdict, verbose)))
    counts = report.counts()
    changed = sum(1 for v in report.verdicts if v.outputs_changed)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    against = f" against {report.against}" if report.against else ""
    runs = render.counted(len(report.verdicts), "run")
    click.echo(f"{runs} checked{against}: {summary or 'nothing to check'}"
               + (f"; {changed} with changed outputs" if changed else ""), err=True)


def _echo_file(found: Any, verbose: bool, json_: bool) -> None:
    if json_:
        import attrs

        render.echo_json(attrs.asdict(found))
        return
    if found.run_id is None:
        click.echo(f"No recorded run produced {found.path}.")
        return
    how = ("by its recorded path" if found.matched_by == "path"
           else f"by content (recorded as {found.recorded_path})")
    changed = ", and it was modified since" if found.state == "modified" else ""
    verdict = found.verdict
    click.echo(f"{found.path} was produced by run {found.run_id[: render.SHORT_ID]} "
               f"({verdict.script or '-'}), found {how}{changed}; that run is {verdict.verdict}.")
    lines = [f"      {r.describe()}" for r in verdict.reasons]
    lines += [f"      output {o.path}: {o.state}" for o in verdict.outputs]
    for line in lines if verbose or verdict.verdict != "fresh" else []:
        click.echo(line)


@click.command("check")
@click.argument("targets", nargs=-1, metavar="[RUN…|PATH]")
@click.option("-p", "--project", help="Only this project (default: the current one).")
@click.option("--all-projects", is_flag=True, help="Every project in the catalog.")
@click.option("--since", help="Runs started at or after: 30m, 12h, 7d, 2w or a date.")
@click.option("--run-status", multiple=True, default=("completed",), show_default=True,
              help="Which runs to consider (repeatable).")
@click.option("--status", "verdicts", multiple=True,
              type=click.Choice(["fresh", "stale", "stale-upstream", "unknown"]),
              help="Show only these verdicts (repeatable).")
@click.option("--against", metavar="REV",
              help="Judge against a git revision, not the working tree.")
@click.option("--check-outputs", is_flag=True,
              help="Also check each output is present and unchanged.")
@click.option("-v", "--verbose", is_flag=True, help="List every reason.")
@options.output_format(csv=False)
def check(targets: tuple[str, ...], project: str | None, all_projects: bool, since: str | None,
          run_status: tuple[str, ...], verdicts: tuple[str, ...], against: str | None,
          check_outputs: bool, verbose: bool, json_: bool) -> None:
    """Say whether each result is still valid against today's code and files.

    \b
    fresh           nothing the run depended on changed
    stale           a dependency changed (the file, how, and the commit are named)
    stale-upstream  a run it was derived from is stale, or that run's output changed
    unknown         nothing recorded to judge by

    Give RUN ids to check those runs, or one PATH to find the run that produced that file.
    Exit codes: 0 all shown fresh (or unknown) with outputs ok; 1 something stale or an output
    changed (or no run produced PATH, or PATH changed since); 2 bad usage or input.
    """
    from bathos.catalog.catalog import Catalog

    if len(targets) == 1 and (os.sep in targets[0] or Path(targets[0]).exists()):
        found = Catalog().producer_of(targets[0], against=against)
        _echo_file(found, verbose, json_)
        sys.exit(0 if found.is_ok else EXIT_STALE)
    report = Catalog().check(targets, project=project, all_projects=all_projects, since=since,
                             status=run_status, verdicts=verdicts, against=against,
                             check_outputs=check_outputs)
    if json_:
        render.echo_json(report.to_dicts())
    else:
        _echo_report(report, verbose)
    sys.exit(0 if report.ok else EXIT_STALE)
