"""`bth diff`: what differs between two runs, section by section."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from bathos_cli import render

if TYPE_CHECKING:
    from bathos.diff import DiffSection, FileChange, PackageChange, RunDiff, ValueChange
    from bathos.models import Run

Line = tuple[str, str]  # text, Rich style ("" for none)
_STATES = {"changed": "changed", "only_a": "only in a", "only_b": "only in b",
           "unknown": "unknown"}
_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


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

    catalog = Catalog()
    a, b = catalog.get(run_a), catalog.get(run_b)
    found = catalog.diff(a, b)
    if json_:
        render.echo_json(found.to_dict(), indent=2)
    else:
        _echo([*_header(a, b), *(_lines(found) if not found.identical
                                  else [("no differences", "bold")])])


def _header(a: Run, b: Run) -> Iterator[Line]:
    for side, run in (("a", a), ("b", b)):
        yield (f"{side}  {run.id[:render.SHORT_ID]}  {run.project}  {run.script or '-'}  "
               f"{render.when(run.started_at)}  {run.status}"), "bold"


def _lines(found: RunDiff) -> Iterator[Line]:
    for section in found.sections:
        if section.identical:
            yield f"{section.name}: {_identical(section)}", "dim"
            continue
        yield section.name, "bold"
        yield from (_change(c) for c in section.changes)
        for change in section.files:
            yield from _file(change)
        if section.files and section.same_files:
            count = len(section.same_files)
            yield f"  {render.counted(count, 'other file')} identical", "dim"
        yield from (_package(p) for p in section.packages)
        if section.note:
            yield f"  {section.note}", "yellow"


def _identical(section: DiffSection) -> str:
    if section.name not in ("code", "inputs", "outputs"):
        return "identical"
    count = len(section.same_files)
    if not count:
        return "identical" if section.name == "code" else "none in either run"
    return f"identical ({render.counted(count, 'file')})"


def _change(change: ValueChange) -> Line:
    delta = f" ({change.delta:+g})" if change.delta is not None else ""
    return f"  {change.key}: {render.cell(change.a)} → {render.cell(change.b)}{delta}", ""


def _file(change: FileChange) -> Iterator[Line]:
    role = f" ({change.role})" if change.role not in ("input", "output") else ""
    yield f"  {_STATES[change.state]:<10} {change.path}{role}", ""
    if change.note:
        yield f"    {change.note}", "yellow"
    for line in (change.diff or "").splitlines():
        yield f"    {line}", "bold" if line.startswith(("---", "+++")) else _DIFF_STYLES.get(
            line[:1], "")


def _package(change: PackageChange) -> Line:
    source = (f" [source {change.a_source or '-'} → {change.b_source or '-'}]"
              if change.a_source != change.b_source else "")
    return (f"  {change.name}: {change.a or '-'} → {change.b or '-'} ({change.change})"
            f"{source}"), ""


def _echo(lines: list[Line]) -> None:
    """Styled through Rich on a terminal (which honours NO_COLOR), plain text in a pipe."""
    if not render.is_terminal():
        for text, _ in lines:
            click.echo(text)
        return
    from rich.console import Console

    console = Console(soft_wrap=True)
    for text, style in lines:
        console.print(text, style=style or None, markup=False, highlight=False)
