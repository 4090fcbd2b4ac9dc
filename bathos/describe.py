"""Runs and diffs described as lines of text: what `bth show` and `bth diff` print, and what the
pages of `bth view` and `bth report` show, from one description.

A record is described as section titles (str) and (key, value) pairs; a diff as (text, style)
lines, the style one of "", "bold", "dim", "green" (added), "red" (removed), "cyan" (a hunk) and
"yellow" (a note).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bathos.diff import DiffSection, FileChange, PackageChange, RunDiff, ValueChange
    from bathos.sidecar import SidecarSpec

SHORT_ID = 12
RecordLine = tuple[str, str] | str
DiffLine = tuple[str, str]


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
# The lists of files a record holds: section title, key, the fields shown of each file.
FILE_LISTS = [("Dependencies", "dependencies", ("role", "path", "sha256")),
              ("Outputs", "outputs", ("path", "size", "sha256"))]


def record_lines(record: dict[str, Any], tracked_changes: dict[str, str | None],
                 sidecar: SidecarSpec | None) -> Iterator[RecordLine]:
    """An unstructured run record's section titles (str) and key/value pairs, in reading order:
    every provenance field `bth show` prints. `tracked_changes` says why its tree was dirty,
    `sidecar` what the run was for."""
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
                yield "packages", f"{value.get('packages_count', '?')} installed"
            elif (key, name) == ("environment", "packages_count"):
                continue  # said with the list
            elif item not in (None, [], {}) and (key, name) != ("git", "untracked_count"):
                yield name, cell(item)
    for title, key, fields in FILE_LISTS:
        items = record.get(key) or []
        yield f"{title} ({len(items)})"
        for item in items:
            yield "", "  ".join(cell(item.get(f)) for f in fields)
    yield from _capture(record.get("capture"))


def _sidecar(record: dict[str, Any], spec: SidecarSpec | None) -> Iterator[RecordLine]:
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


def _capture(capture: dict[str, Any] | None) -> Iterator[RecordLine]:
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
    """The untracked files in one line: how many, and the first few."""
    names = git["untracked"]
    count = git.get("untracked_count") or len(names)
    return f"{counted(count, 'file')}: {', '.join(names[:5])}" + (
        ", …" if count > 5 else "")


_STATES = {"changed": "changed", "only_a": "only in a", "only_b": "only in b",
           "unknown": "unknown"}
_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


def diff_lines(found: RunDiff) -> Iterator[DiffLine]:
    """What `bth diff` prints under its header: each section that differs, line by line, and one
    line for each that matches (or one line saying nothing differs)."""
    if found.identical:
        yield "no differences", "bold"
        return
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
            yield f"  {counted(count, 'other file')} identical", "dim"
        yield from (_package(p) for p in section.packages)
        if section.note:
            yield f"  {section.note}", "yellow"


def _identical(section: DiffSection) -> str:
    if section.name not in ("code", "inputs", "outputs"):
        return "identical"
    count = len(section.same_files)
    if not count:
        return "identical" if section.name == "code" else "none in either run"
    return f"identical ({counted(count, 'file')})"


def _change(change: ValueChange) -> DiffLine:
    delta = f" ({change.delta:+g})" if change.delta is not None else ""
    return f"  {change.key}: {cell(change.a)} → {cell(change.b)}{delta}", ""


def _file(change: FileChange) -> Iterator[DiffLine]:
    role = f" ({change.role})" if change.role not in ("input", "output") else ""
    yield f"  {_STATES[change.state]:<10} {change.path}{role}", ""
    if change.note:
        yield f"    {change.note}", "yellow"
    for line in (change.diff or "").splitlines():
        yield f"    {line}", "bold" if line.startswith(("---", "+++")) else _DIFF_STYLES.get(
            line[:1], "")


def _package(change: PackageChange) -> DiffLine:
    source = (f" [source {change.a_source or '-'} → {change.b_source or '-'}]"
              if change.a_source != change.b_source else "")
    return (f"  {change.name}: {change.a or '-'} → {change.b or '-'} ({change.change})"
            f"{source}"), ""
