"""Rendering: Rich tables on a terminal, plain aligned text in a pipe, JSON and CSV on request.

stdout carries data; warnings and progress go to stderr. Rich honours NO_COLOR.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

# The commands name these render.SHORT_ID, render.cell, render.counted.
from bathos.describe import SHORT_ID as SHORT_ID
from bathos.describe import cell as cell
from bathos.describe import counted as counted
from bathos.describe import record_lines

if TYPE_CHECKING:
    from bathos.describe import RecordLine
    from bathos.sidecar import SidecarSpec


def is_terminal() -> bool:
    return sys.stdout.isatty()


def echo_json(data: Any, *, indent: int | None = None) -> None:
    """JSON on stdout: listings compact (the fast encoder), single records indented."""
    click.echo(json.dumps(data, indent=indent, ensure_ascii=False, default=str))


def echo_csv(data: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """CSV with a header row (even with no rows); nested values as JSON."""
    import csv

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in data:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v
                         for k, v in row.items()})
    click.echo(buf.getvalue(), nl=False)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               styles: dict[str, Callable[[str], str]] | None = None) -> None:
    """A Rich table on a terminal, plain columns separated by two spaces otherwise."""
    if is_terminal():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(show_edge=False, header_style="bold", pad_edge=False, box=None)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*[
                (styles or {}).get(h, escape)(cell) for h, cell in zip(headers, row, strict=True)
            ])
        Console().print(table)
        return
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [list(headers), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


# The colour of every run status and freshness verdict, wherever the CLI shows one.
STYLES = {
    "completed": "green", "failed": "red", "running": "cyan", "interrupted": "yellow",
    "timeout": "yellow", "cancelled": "yellow", "lost": "magenta",
    "fresh": "green", "stale": "red", "stale-upstream": "yellow", "unknown": "magenta",
}


def style_status(status: str) -> str:
    """A status or verdict as Rich markup in its colour (`STYLES`)."""
    from rich.markup import escape

    colour = STYLES.get(status)
    return f"[{colour}]{escape(status)}[/]" if colour else escape(status)


def when(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """Local time; relative (`5m ago`) within the last day."""
    if value is None:
        return "-"
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    age = (now - aware).total_seconds()
    if 0 <= age < 60:
        return f"{int(age)}s ago"
    if 0 <= age < 3600:
        return f"{int(age // 60)}m ago"
    if 0 <= age < 86400:
        return f"{int(age // 3600)}h ago"
    return aware.astimezone().strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def commit(sha: str | None, dirty: bool | None) -> str:
    if not sha:
        return "-"
    return sha[:8] + ("*" if dirty else "")


# How a run listing shows a column (else as `cell` does), and the columns it shows by default
# with their headings.
_RUN_CELLS: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "id": lambda v, _: v[:SHORT_ID],
    "started_at": lambda v, _: when(dt.datetime.fromisoformat(v) if v else None),
    "ended_at": lambda v, _: when(dt.datetime.fromisoformat(v) if v else None),
    "duration_s": lambda v, _: duration(v),
    "commit": lambda v, row: commit(v, row.get("dirty")),
    "tags": lambda v, _: ", ".join(v) or "-",
}
RUN_HEADINGS = {"id": "id", "project": "project", "status": "status", "script": "script",
                "started_at": "started", "duration_s": "duration", "hostname": "host",
                "commit": "commit"}


TASK_HEADINGS = {**RUN_HEADINGS, "slurm_array_task_id": "task"}


def echo_runs(data: list[dict[str, Any]], columns: Sequence[str] = (),
              headings: dict[str, str] | None = None) -> None:
    """Runs as a table: the columns named (headed by their names), else `headings` (column:
    heading), else the usual few."""
    headings = {c: c for c in columns} or headings or RUN_HEADINGS
    echo_table(list(headings.values()), [
        [_RUN_CELLS[c](row[c], row) if c in _RUN_CELLS else cell(row[c]) for c in headings]
        for row in data
    ], styles={"status": style_status})


def listing(data: list[dict[str, Any]], columns: Sequence[str], *, json_: bool, csv_: bool,
            table: Callable[[list[dict[str, Any]]], None]) -> None:
    """Print a listing in the format asked for."""
    if json_:
        echo_json(data)
    elif csv_:
        echo_csv(data, columns)
    else:
        table(data)


@contextlib.contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal) fed by the library's on_progress callback."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _with_hints(record: dict[str, Any], lines: Iterable[RecordLine]) -> Iterator[RecordLine]:
    """The record's lines with the commands that show more: its packages, its logs."""
    short = record["id"][:SHORT_ID]
    section = ""
    for line in lines:
        if isinstance(line, str):
            if section == "Logs" and record.get("logs"):
                yield "read with", f"bth logs {short} [--stderr]"
            section = line
        elif section == "Environment" and line[0] == "packages":
            line = line[0], f"{line[1]} (list them: bth show {short} --packages)"
        yield line


def echo_packages(data: list[dict[str, Any]]) -> None:
    """The packages a run had installed, as `Catalog.packages` gives them."""
    if data:
        echo_table(["name", "version", "source"], [
            [p["name"], cell(p["version"]), cell(p["source"]) + (" (editable)" if p["editable"]
                                                                  else "")] for p in data])


def echo_record(record: dict[str, Any], *,
                tracked_changes: dict[str, str | None] | None = None,
                sidecar: SidecarSpec | None = None, siblings: dict[str, int] | None = None,
                ) -> None:
    """A run record in readable sections; `tracked_changes` says why its tree was dirty,
    `sidecar` what the run was for, `siblings` how its SLURM array's tasks ended."""
    lines = list(_with_hints(record, record_lines(record, tracked_changes or {}, sidecar)))
    if siblings:
        at = lines.index("SLURM") + 1
        while at < len(lines) and not isinstance(lines[at], str):
            at += 1
        lines.insert(at, ("array tasks", f"{counted(sum(siblings.values()), 'task')} recorded: "
                          + ", ".join(f"{n} {s}" for s, n in siblings.items())))
    if is_terminal():
        from rich.console import Console
        from rich.markup import escape

        console = Console()
        for line in lines:
            if isinstance(line, str):
                console.print(f"\n[bold]{escape(line)}[/]")
            else:
                console.print(f"  [dim]{escape(line[0])}[/] {escape(line[1])}" if line[0]
                              else f"  {escape(line[1])}")
        return
    for line in lines:
        if isinstance(line, str):
            click.echo(f"\n{line}")
        else:
            click.echo(f"  {line[0]}: {line[1]}" if line[0] else f"  {line[1]}")


def _node_label(graph: Any, run_id: str) -> str:
    node = graph.nodes.get(run_id)
    if node is None:
        return run_id[:SHORT_ID]
    return f"{run_id[:SHORT_ID]}  {node.script or '-'}  {node.status}  {when(node.started_at)}"


def echo_lineage(graph: Any, *, descendants: bool) -> None:
    """Ancestors as an indented tree under the run; descendants below it when asked."""

    def walk(run_id: str, step: Callable[[str], list[Any]], pick: str, depth: int,
             seen: set[str]) -> None:
        for edge in step(run_id):
            other = getattr(edge, pick)
            mark = " (inferred from files)" if edge.inferred else ""
            click.echo("    " * depth + "└── " + _node_label(graph, other) + mark)
            if other not in seen:
                walk(other, step, pick, depth + 1, seen | {other})

    click.echo(_node_label(graph, graph.root))
    if graph.parents(graph.root):
        click.echo("derived from:")
        walk(graph.root, graph.parents, "parent", 0, {graph.root})
    if descendants and graph.children(graph.root):
        click.echo("built on by:")
        walk(graph.root, graph.children, "child", 0, {graph.root})


def lineage_dot(graph: Any) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for run_id, node in sorted(graph.nodes.items()):
        label = f"{run_id[:SHORT_ID]}\\n{node.script or '-'}\\n{node.status}"
        lines.append(f'  "{run_id}" [label="{label}"];')
    for edge in graph.edges:
        style = " [style=dashed]" if edge.inferred else ""
        lines.append(f'  "{edge.parent}" -> "{edge.child}"{style};')
    lines.append("}")
    return "\n".join(lines)
