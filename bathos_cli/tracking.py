"""Commands that make runs: init, run; and follow them: lineage, logs."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bathos_cli import render

if TYPE_CHECKING:
    from bathos.diff import DiffSection


@click.command("init")
@click.option("--slug", help="Project slug (default: the directory name, lower-cased).")
@click.option("--remote", "remotes", multiple=True, metavar="NAME=HOST:PATH",
              help="A catalog to sync with over SSH (repeatable).")
@click.option("--slurm-partition", help="Default SLURM partition for this project.")
@click.option("--force", is_flag=True, help="Overwrite an existing .bth.toml.")
def init(slug: str | None, remotes: tuple[str, ...], slurm_partition: str | None,
         force: bool) -> None:
    """Make the current directory a bathos project (.bth.toml, scripts/ skeleton, registry)."""
    from bathos.projects import init_project, parse_remote

    report = init_project(Path.cwd(), slug=slug, remotes=tuple(parse_remote(r) for r in remotes),
                          slurm_partition=slurm_partition, force=force)
    for path in report.created:
        click.echo(f"  created {path}", err=True)
    for path in report.updated:
        click.echo(f"  updated {path}", err=True)
    changed = report.created or report.updated
    state = "initialised" if changed else "already initialised, nothing changed"
    click.echo(f"Project {report.project.slug!r} {state} in {report.project.root}", err=True)
    click.echo("Next: bth new-experiment fit_slope writes a script and the sidecar that judges "
               "its runs; bth lint checks names and sidecars", err=True)


@click.command("run", context_settings={"allow_interspersed_args": False})
@click.option("--project", help="Record under this project slug.")
@click.option("--name", help="A name for this run.")
@click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable).")
@click.option("--agent-mode", type=click.Choice(["collaborative", "autonomous"]),
              help="An AI agent drives this run: with a person (collaborative) or alone "
                   "(autonomous: a changed sidecar is refused). Implies --json-errors.")
@click.option("--derived-from", help="The run this one builds on (id or prefix).")
@click.option("--campaign", help="File this run under this open campaign (bth campaign).")
@click.option("--no-sidecar", is_flag=True,
              help="Run without the sidecar's checks, and record that they were bypassed.")
@click.option("--json-errors", is_flag=True,
              help="A refusal or error is one JSON object on stderr, with a stable `code`.")
@click.option("--python", help="Interpreter for a .py script (default: the project's).")
@click.option("--out", "outs", multiple=True, help="An output not named in the arguments.")
@click.argument("target", metavar="SCRIPT|COMMAND")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(target: str, args: tuple[str, ...], derived_from: str | None, campaign: str | None,
        json_errors: bool, **flags: Any) -> None:
    """Run a script (or, after --, any command) and record it with full provenance.

    \b
      bth run scripts/experiments/train.py -- --n-steps 1000 --out outputs/run1.parquet
      bth run -- make figures

    A script in scripts/experiments/, scripts/benchmarks/ or scripts/validation/ (.bth.toml
    [sidecar] required) runs only with a valid sidecar, <stem>.bth.toml beside it. Exits with the
    command's exit code (128+N when a signal N ended it); 2 when the run may not start.
    """
    from bathos.runner import RunSpec, execute, start_run

    spec = RunSpec.from_command(target, args, parent_run_id=derived_from, campaign_id=campaign,
                                **flags)
    with _errors_as_json(json_errors or flags["agent_mode"] is not None):
        active = start_run(spec)
        short = active.run.id[: render.SHORT_ID]
        outcome = execute(active, on_started=lambda run: click.echo(
            f"bth: run {short} started ({run.project})", err=True))
    done = outcome.run
    if active.unrecorded is None:  # else the library has said in one line where the run went
        click.echo(f"bth: run {short} {done.status} in {render.duration(done.duration_s)} "
                   f"(exit {outcome.exit_code}) — bth show {short}", err=True)
    sys.exit(outcome.exit_code)


@contextlib.contextmanager
def _errors_as_json(enabled: bool) -> Iterator[None]:
    """When `enabled`, a library error is one JSON object on stderr (`error_object`), with its
    exit code."""
    from bathos.errors import BathosError, error_object
    from bathos_cli.main import exit_code

    try:
        yield
    except BathosError as exc:
        if not enabled:
            raise
        click.echo(json.dumps(error_object(exc), ensure_ascii=False), err=True)
        raise SystemExit(exit_code(exc)) from None


@click.command("tag")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option("--add", "add", multiple=True, metavar="TAG", help="Add this tag (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="TAG",
              help="Remove this tag (repeatable).")
def tag(run_ids: tuple[str, ...], add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Add tags to or remove tags from runs that have ended; prints each run's tags.

    \b
      bth tag 1jd3k 7fq2a --add baseline --remove draft

    The edit is recorded in the run (who, when). Exits 2 for a bad tag, an unknown run or one
    still running; every run named is found before any is changed.
    """
    from bathos.catalog.catalog import Catalog
    from bathos.config import check_tags

    if not add and not remove:
        raise click.UsageError("name a tag to --add or --remove")
    check_tags((*add, *remove))
    cat = Catalog()
    for run in [cat.get(r) for r in run_ids]:
        tagged = cat.tag(run, add=add, remove=remove)
        click.echo(f"{tagged.id[: render.SHORT_ID]}  {', '.join(tagged.tags) or '(no tags)'}")


@click.command("import-spill")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def import_spill(paths: tuple[Path, ...]) -> None:
    """Record runs that were kept aside (spilled) when the catalog could not be written.

    Without PATH, imports every spill in ./outputs/*/bth-spill of the current project and in
    $TMPDIR/bth-spill-<uid>/. Each spill is removed once its run is in the catalog.
    """
    from bathos.catalog.catalog import Catalog
    from bathos.errors import BathosError
    from bathos_cli.main import error_line, exit_code

    cat, code = Catalog(), 0
    chosen = list(paths) or cat.spills()
    if not chosen:
        click.echo("No spilled runs found.", err=True)
        return
    for path in chosen:
        try:
            run = cat.import_spill(path)
        except BathosError as exc:
            click.echo(error_line(exc), err=True)
            code = max(code, exit_code(exc))
            continue
        click.echo(f"bth: imported run {run.id[: render.SHORT_ID]} ({run.status}) from {path}",
                   err=True)
    sys.exit(code)


@click.command("lineage")
@click.argument("run_id")
@click.option("--descendants", is_flag=True, help="Also show the runs built on this one.")
@click.option("--format", "format_", type=click.Choice(["text", "json", "dot"]), default="text",
              show_default=True)
def lineage(run_id: str, descendants: bool, format_: str) -> None:
    """The runs a run came from (explicit --derived-from links and inferred from files)."""
    import attrs

    from bathos.catalog.catalog import Catalog

    graph = Catalog().lineage(run_id, descendants=descendants)
    if format_ == "json":
        render.echo_json(attrs.asdict(graph))
    elif format_ == "dot":
        click.echo(render.lineage_dot(graph))
    else:
        render.echo_lineage(graph, descendants=descendants)


@click.command("logs")
@click.argument("run_id")
@click.option("--stderr", "stream", flag_value="stderr", help="Show stderr instead of stdout.")
@click.option("--stdout", "stream", flag_value="stdout", default=True, hidden=True)
@click.option("-f", "--follow", is_flag=True,
              help="Print a running run's output as it writes it, until the run ends.")
def logs(run_id: str, stream: str, follow: bool) -> None:
    """Print the stdout (or --stderr) a run produced, as kept in the catalog.

    Of a run still running on this host: its output so far, or with --follow each line as it
    comes, ending (exit 0) when the run ends; Ctrl-C stops following (exit 130).
    """
    from bathos.catalog.catalog import Catalog
    from bathos_cli.main import EXIT_INTERRUPTED

    cat = Catalog()
    run = cat.get(run_id)
    short = run.id[: render.SHORT_ID]
    written = 0
    try:
        for part in cat.follow_log(run, stream) if follow else [cat.read_log(run, stream)]:
            sys.stdout.buffer.write(part)
            sys.stdout.buffer.flush()
            written += len(part)
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None
    nothing = "" if written else f", writing nothing to {stream}"
    if follow:
        done = cat.get(run.id)
        code = f" (exit {done.exit_code})" if done.exit_code is not None else ""
        click.echo(f"bth: run {short} {done.status}{code}{nothing}", err=True)
    elif run.status == "running":
        so_far = "this is its output so far" if written else f"nothing on {stream} yet"
        click.echo(f"bth: run {short} is still running, {so_far} (bth logs --follow {short} "
                   "follows it)", err=True)
    elif not written:
        click.echo(f"bth: run {short} wrote nothing to {stream}", err=True)


@click.command("rerun")
@click.argument("run_id")
@click.option("--here", is_flag=True, help="Run in the repository as it is now (when the files "
              "the run read are unchanged), not in a temporary checkout of its pinned code.")
@click.option("--tag", "tags", multiple=True, help="Tag the new run (besides `rerun`).")
def rerun(run_id: str, here: bool, tags: tuple[str, ...]) -> None:
    """Run a recorded run again as it was, and say whether its outputs are byte-identical.

    \b
      bth rerun 1m8cj3xf
      bth rerun 1m8cj3xf --here

    Its pinned code (the commit, or the snapshot of a dirty tree) is checked out into a temporary
    directory, removed afterwards; what the run writes there is kept under outputs/<new id>/. Same
    arguments, working directory, interpreter and recorded variables; the new run is derived from
    the old and tagged `rerun`. Exits with the command's exit code; 2 when the run cannot be rerun.
    """
    from bathos.catalog.catalog import Catalog

    done = Catalog().rerun(run_id, here=here, tags=tags, on_started=lambda run: click.echo(
        f"bth: run {run.id[: render.SHORT_ID]} started ({run.project}), rerunning "
        f"{run.parent_run_id[: render.SHORT_ID] if run.parent_run_id else run_id}", err=True))
    new, short = done.run, done.run.id[: render.SHORT_ID]
    click.echo(f"bth: run {short} {new.status} in {render.duration(new.duration_s)} "
               f"(exit {done.exit_code}) — bth show {short}", err=True)
    click.echo(f"bth: {_compared(done.outputs, done.original.id[: render.SHORT_ID])}", err=True)
    sys.exit(done.exit_code)


def _compared(outputs: DiffSection, old: str) -> str:
    """One line on how a rerun's outputs compare with those of run `old`."""
    if outputs.identical:
        count = len(outputs.same_files)
        return (f"outputs byte-identical to run {old}'s ({render.counted(count, 'file')})"
                if count else f"neither this run nor run {old} recorded outputs to compare")
    by_state = {label: [f.path for f in outputs.files if f.state in states]
                for label, states in (("changed", ("changed", "unknown")),
                                      ("missing", ("only_a",)), ("new", ("only_b",)))}
    parts = [f"{label} {', '.join(paths[:5])}{' …' * (len(paths) > 5)}"
             for label, paths in by_state.items() if paths]
    return f"outputs differ from run {old}'s: {'; '.join(parts)}"
