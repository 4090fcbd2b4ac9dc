"""Commands that read the catalog: ls, show, find, sql; and its upkeep: compact, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bathos_cli import options, render

if TYPE_CHECKING:
    from bathos.catalog.catalog import Catalog
    from bathos.models import Run
    from bathos.sidecar import SidecarSpec


def _catalog() -> Catalog:
    from bathos.catalog.catalog import Catalog

    return Catalog()


def _list(criteria: dict[str, Any], *, columns: list[str], sort: str | None, desc: bool,
          json_: bool, csv_: bool) -> None:
    """The runs `criteria` pick (sorted and cut to -n after sorting, with --sort), in the
    columns asked for."""
    if desc and not sort:
        raise click.UsageError("--desc reverses --sort: give --sort COLUMN too")
    limit = criteria.pop("limit")
    rows = _catalog().runs(limit=None if sort else limit, **criteria)
    if sort:
        rows = rows.sorted_by(sort, descending=desc, limit=limit)
    shown = rows.select(columns) if columns else rows

    def table(data: list[dict[str, Any]]) -> None:
        if data:
            render.echo_runs(data, columns)
        else:
            click.echo(_no_runs(criteria), err=True)

    render.listing(shown.to_dicts(), shown.columns, json_=json_, csv_=csv_, table=table)


def _no_runs(criteria: dict[str, Any]) -> str:
    """Why a listing is empty, and how to widen it where it can be widened."""
    from bathos.query import RunQuery

    scope = RunQuery(project=criteria["project"], all_projects=criteria["all_projects"])
    projects = scope.projects()
    where = f"project {', '.join(projects)}" if projects else "the catalog"
    narrowed = any(v for k, v in criteria.items() if k not in ("project", "all_projects"))
    said = (f"No runs in {where} match these criteria." if narrowed
            else f"No runs in {where} yet.")
    if projects and not criteria["project"]:  # the project the working directory lies in
        said += " (--all-projects looks in every project)"
    return said


@click.command("ls")
@options.run_filters()
@options.listing_columns()
@options.output_format()
def ls(columns: list[str], sort: str | None, desc: bool, json_: bool, csv_: bool,
       **criteria: Any) -> None:
    """List runs, newest first (the current project's, inside a project)."""
    _list(criteria, columns=columns, sort=sort, desc=desc, json_=json_, csv_=csv_)


@click.command("find")
@options.run_filters(find=True)
@options.listing_columns()
@options.output_format()
def find(params: tuple[str, ...], columns: list[str], sort: str | None, desc: bool, json_: bool,
         csv_: bool, **criteria: Any) -> None:
    """Search runs by script, argument, host, commit, SLURM job, output file or campaign."""
    _list({**criteria, "params": options.parse_params(params)}, columns=columns, sort=sort,
          desc=desc, json_=json_, csv_=csv_)


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
        render.echo_record(unstructure(run), tracked_changes=catalog.tracked_changes(run),
                           sidecar=_kept_sidecar(catalog, run))


def _kept_sidecar(catalog: Catalog, run: Run) -> SidecarSpec | None:
    """The sidecar a run was judged by, or None (and a warning) when it cannot be read."""
    from bathos.errors import CatalogError

    try:
        return catalog.sidecar(run)
    except CatalogError as exc:
        click.echo(f"warning: {exc}", err=True)
        return None


@click.command("sql")
@click.argument("query", required=False)
@click.option("--schema", "schema_", is_flag=True, help="Print the views and their columns.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop the query after this many seconds (exit 124). Default: no limit.")
@options.output_format()
def sql(query: str | None, schema_: bool, timeout: float | None, json_: bool,
        csv_: bool) -> None:
    """Run a read-only DuckDB query over the views `runs`, `outputs`, `dependencies`,
    `metrics`, `campaigns` and `campaign_runs`.
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

