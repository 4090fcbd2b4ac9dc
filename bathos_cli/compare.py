"""`bth diff`: what differs between two runs, section by section."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from bathos_cli import render

if TYPE_CHECKING:
    from bathos.describe import DiffLine
    from bathos.models import Run


@click.command("diff")
@click.argument("run_a", metavar="A")
@click.argument("run_b", metavar="B")
@click.option("--json", "json_", is_flag=True,
              help="Print every section as JSON (docs/cli.md describes its shape).")
def diff(run_a: str, run_b: str, json_: bool) -> None:
    """What differs between runs A and B (ids or unique prefixes of 4+ characters).

    \b
    code         commit, dirty tree and snapshot; a unified diff of each script,
                 module and sidecar that changed, read from the pinned git objects
    command      project, name, script, argv, cwd, tags
    params       added, removed, changed (numbers with their difference)
    environment  interpreter, packages added/removed/upgraded, variables
    inputs       files by path: changed, only in a, only in b
    outputs      the same; "identical (N files)" when every byte matches
    results      changed values and final metrics, numbers with their difference
    host         host name, CPUs, SLURM job, partition and nodes
    outcome      status, exit code, signal, error, duration and its difference, and
                 the outcome each run's sidecar judged

    Only what differs is printed, and one line for each section that matches.
    """
    from bathos.catalog.catalog import Catalog
    from bathos.describe import diff_lines

    catalog = Catalog()
    a, b = catalog.get(run_a), catalog.get(run_b)
    found = catalog.diff(a, b)
    if json_:
        render.echo_json(found.to_dict(), indent=2)
    else:
        _echo([*_header(a, b), *diff_lines(found)])


def _header(a: Run, b: Run) -> Iterator[DiffLine]:
    for side, run in (("a", a), ("b", b)):
        yield (f"{side}  {run.id[:render.SHORT_ID]}  {run.project}  {run.script or '-'}  "
               f"{render.when(run.started_at)}  {run.status}"), "bold"


def _echo(lines: list[DiffLine]) -> None:
    """Styled through Rich on a terminal (which honours NO_COLOR), plain text in a pipe."""
    if not render.is_terminal():
        for text, _ in lines:
            click.echo(text)
        return
    from rich.console import Console

    console = Console(soft_wrap=True)
    for text, style in lines:
        console.print(text, style=style or None, markup=False, highlight=False)
