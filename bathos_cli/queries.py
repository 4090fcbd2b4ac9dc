"""Commands that read the catalog: ls, show, find, sql; and its upkeep: compact, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bathos_cli import options, render

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.catalog.rows import Rows


def _catalog() -> Catalog:
    from bathos.catalog.catalog import Catalog

    return Catalog()


def _runs_table(data: list[dict[str, Any]]) -> None:
    if not data:
        click.echo("No runs match. (bth ls --all-projects --since 30d widens the search)", err=True)
        return
    import datetime as dt

    rows = [
        [
            r["id"][: render.SHORT_ID], r["project"] or "-", r["status"], r["script"] or "-",
            render.when(dt.datetime.fromisoformat(r["started_at"])),
            render.duration(r["duration_s"]), r["hostname"] or "-",
            render.commit(r["commit"], r["dirty"]),
        ]
        for r in data
    ]
    render.echo_table(["id", "project", "status", "script", "started", "duration", "host",
                       "commit"], rows, styles={"status": render.style_status})


def _list(rows: Rows, *, json_: bool, csv_: bool) -> None:
    render.listing(rows.to_dicts(), rows.columns, json_=json_, csv_=csv_, table=_runs_table)


@click.command("ls")
@options.run_filters()
@options.output_format()
def ls(json_: bool, csv_: bool, **criteria: Any) -> None:
    """List runs, newest first (the current project's, inside a project)."""
    _list(_catalog().runs(**criteria), json_=json_, csv_=csv_)


@click.command("find")
@options.run_filters(find=True)
@options.output_format()
def find(params: tuple[str, ...], json_: bool, csv_: bool, **criteria: Any) -> None:
    """Search runs by script, argument, host, commit, SLURM job, output file or campaign."""
    _list(_catalog().runs(params=options.parse_params(params), **criteria), json_=json_,
          csv_=csv_)


@click.command("show")
@click.argument("run_id")
@click.option("--packages", is_flag=True,
              help="Print the Python packages the run had installed: name, version, source.")
@click.option("--json", "json_", is_flag=True,
              help="Print the whole record (with --packages: the packages) as JSON.")
def show(run_id: str, packages: bool, json_: bool) -> None:
    """Everything recorded about one run (a unique id prefix of 4+ characters is enough)."""
    from bathos.models import unstructure

    catalog = _catalog()
    run = catalog.get(run_id)
    if packages:
        rows = catalog.packages(run)
        if not rows:
            listed = run.environment is not None and run.environment.packages_list is not None
            click.echo(f"Run {run.id[:render.SHORT_ID]} " + (
                "had no Python packages installed." if listed else "has no package list (it "
                "ran no Python, or was recorded before bathos kept them)."), err=True)
        render.listing(rows.to_dicts(), rows.columns, json_=json_, csv_=False,
                       table=render.echo_packages)
    elif json_:
        render.echo_json(unstructure(run), indent=2)
    else:
        render.echo_record(unstructure(run), tracked_changes=catalog.tracked_changes(run))


@click.command("sql")
@click.argument("query", required=False)
@click.option("--schema", "schema_", is_flag=True, help="Print the views and their columns.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop the query after this many seconds (exit 124). Default: no limit.")
@options.output_format()
def sql(query: str | None, schema_: bool, timeout: float | None, json_: bool,
        csv_: bool) -> None:
    """Run a read-only DuckDB query over the views `runs`, `outputs`, `dependencies` and
    `metrics`.
    Ctrl-C stops it (exit 130).

    Example: bth sql "SELECT project, status, count(*) FROM runs GROUP BY ALL"
    """
    if schema_:
        for view, columns in _catalog().schema().items():
            click.echo(f"{view}:")
            for name, kind in columns:
                click.echo(f"  {name}  {kind}")
        return
    if not query:
        raise click.UsageError("give a query, or --schema to see the views")
    rows = _catalog().sql(query, timeout=timeout)
    data = rows.to_dicts()

    def table(data: list[dict[str, Any]]) -> None:
        render.echo_table(rows.columns, [[render.cell(v) for v in r.values()] for r in data])

    render.listing(data, rows.columns, json_=json_, csv_=csv_, table=table)


@click.command("compact")
def compact() -> None:
    """Fold finished runs into sorted Parquet segments (also happens automatically)."""
    with render.progress("compacting") as on_progress:
        report = _catalog().compact(on_progress=on_progress)
    click.echo(f"Folded {report.folded} runs into {report.segments_written} segment(s), merged "
               f"{report.segments_merged} segment(s) in {report.seconds:.2f}s.", err=True)


@click.command("verify")
@click.option("--quarantine", is_flag=True,
              help="Move unreadable files to catalog/quarantine/ (nothing is deleted).")
def verify(quarantine: bool) -> None:
    """Read every catalog file; list the unreadable ones. Exit 1 if any is found."""
    with render.progress("verifying") as on_progress:
        report = _catalog().verify(quarantine=quarantine, on_progress=on_progress)
    for problem in report.problems:
        click.echo(f"{problem.path}: {problem.reason}")
    for moved in report.quarantined:
        click.echo(f"quarantined -> {moved}", err=True)
    click.echo(f"{report.files_checked} files checked, {len(report.problems)} unreadable.",
               err=True)
    if report.problems and not quarantine:
        raise SystemExit(1)

