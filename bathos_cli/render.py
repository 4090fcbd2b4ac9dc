"""Rendering: Rich tables on a terminal, plain aligned text in a pipe, JSON and CSV on request.

stdout carries data; warnings and progress go to stderr. Rich honours NO_COLOR.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from bathos.sidecar import SidecarSpec

SHORT_ID = 12


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


def counted(count: int, noun: str) -> str:
    """`1 run`, `2 runs`: a count and its noun (plural by an `s`)."""
    return f"{count} {noun}{'s' * (count != 1)}"


def cell(value: Any) -> str:
    """One value as table text."""
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_SECTIONS: list[tuple[str, list[str]]] = [
    ("Run", ["id", "project", "name", "status", "exit_code", "signal", "error", "tags",
             "agent_mode", "parent_run_id", "campaign_id"]),
    ("Time (UTC)", ["started_at", "ended_at", "duration_s", "heartbeat_at", "updated_at"]),
    ("Command", ["script", "argv", "cwd", "params"]),
]
_NESTED = [("Code", "git"), ("Host", "host"), ("SLURM", "slurm"),
           ("Environment", "environment"), ("Results", "results"), ("Logs", "logs")]
_LISTS = [("Dependencies", "dependencies", ("role", "path", "sha256")),
          ("Outputs", "outputs", ("path", "size", "sha256"))]


def _lines(record: dict[str, Any], tracked_changes: dict[str, str | None],
           sidecar: SidecarSpec | None) -> Iterator[tuple[str, str] | str]:
    """Section titles (str) and key/value pairs, in reading order."""
    for title, keys in _SECTIONS:
        yield title
        for key in keys:
            if record.get(key) not in (None, [], {}, ()):
                yield key, cell(record[key])
    yield from _sidecar(record, sidecar)
    for title, key in _NESTED:
        yield title
        value = record.get(key) or {}
        if not value:
            yield "", "(none recorded)"
        for name, item in value.items():
            if key == "git" and name == "untracked" and item:
                yield name, _untracked(value)
            elif key == "git" and name == "dirty" and item and tracked_changes:
                yield name, f"True ({_changed(tracked_changes)})"
            elif (key, name) == ("environment", "packages_list") and item:
                yield "packages", (f"{value.get('packages_count', '?')} installed (list them: "
                                   f"bth show {record['id'][:SHORT_ID]} --packages)")
            elif (key, name) == ("environment", "packages_count"):
                continue  # said with the list
            elif item not in (None, [], {}) and (key, name) != ("git", "untracked_count"):
                yield name, cell(item)
        if key == "logs" and value:
            yield "read with", f"bth logs {record['id'][:SHORT_ID]} [--stderr]"
    for title, key, fields in _LISTS:
        items = record.get(key) or []
        yield f"{title} ({len(items)})"
        for item in items:
            yield "", "  ".join(cell(item.get(f)) for f in fields)
    yield from _capture(record.get("capture"))


def _sidecar(record: dict[str, Any], spec: SidecarSpec | None) -> Iterator[tuple[str, str] | str]:
    """What the run was for and what its results meant: nothing for a run without a sidecar."""
    sidecar = record.get("sidecar")
    if not sidecar:
        return
    yield "Sidecar"
    if sidecar["path"]:
        yield "path", sidecar["path"]
    yield "mode", sidecar["mode"] + (" (the sidecar check was skipped)"
                                     if sidecar["mode"] == "bypassed" else "")
    if spec is not None:
        yield "kind", spec.kind
        for name, value in spec.fields.items():
            yield name, cell(value)
    outcome = record.get("outcome")
    if outcome:
        yield "Outcome"
        for name in ("label", "decision", "condition", "values", "reason"):
            if outcome.get(name) not in (None, {}):
                yield name, cell(outcome[name])


def _capture(capture: dict[str, Any] | None) -> Iterator[tuple[str, str] | str]:
    """How the run's files were found, under the outputs: what a reader of them must know."""
    if not capture:
        return
    yield "Files found"
    scanned = f"{capture['scanned']:,} entries in {capture['scan_s']:.2f}s"
    yield "scan", (f"stopped at its cap after {scanned}: outputs beyond it may be missing"
                   if capture["scan_capped"] else scanned)
    if capture["not_written"]:
        yield "not written by this run", ", ".join(capture["not_written"])
    if capture["modified_tracked"]:
        yield "tracked files changed", (", ".join(capture["modified_tracked"]) +
                                        " (the next run's tree is dirty because of them)")


def _changed(changes: dict[str, str | None]) -> str:
    """The tracked files a dirty tree had changed, each with the run that wrote it if one did."""
    named = [f"{path} written by run {writer[:SHORT_ID]}" if writer else path
             for path, writer in changes.items()]
    return "changed: " + ", ".join(named[:5]) + (f" and {len(named) - 5} more"
                                                 if len(named) > 5 else "")


def _untracked(git: dict[str, Any]) -> str:
    """The untracked files in one line: how many, and the first few (all listed: --json)."""
    names = git["untracked"]
    count = git.get("untracked_count") or len(names)
    return f"{counted(count, 'file')}: {', '.join(names[:5])}" + (
        ", …" if count > 5 else "")


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
    lines = list(_lines(record, tracked_changes or {}, sidecar))
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
