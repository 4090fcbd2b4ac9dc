"""`bth metrics`: the metric history of runs."""

from __future__ import annotations

from typing import Any

import click

from bathos_cli import options, render


@click.command("metrics")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option("-k", "--key", "keys", multiple=True, help="Only this metric (repeatable).")
@options.output_format()
def metrics(run_ids: tuple[str, ...], keys: tuple[str, ...], json_: bool, csv_: bool) -> None:
    """The metric points runs logged (bth.log, BTH_METRIC lines): a table with a row per step
    and a column per metric, or with --json/--csv one row per point (run_id, key, step, value,
    time)."""
    from bathos.catalog.catalog import Catalog
    from bathos.catalog.rows import plain

    points = Catalog().metrics(run_ids, keys=list(keys) or None)
    data = [{k: plain(v) for k, v in row.items()} for row in points.iter_rows(named=True)]
    render.listing(data, points.columns, json_=json_, csv_=csv_,
                   table=lambda _: _table(points, several=len(run_ids) > 1, keys=keys))


def _table(points: Any, *, several: bool, keys: tuple[str, ...]) -> None:
    """One row per step (per run, when there are several), one column per metric."""
    if points.is_empty():
        click.echo(f"No points of {', '.join(keys)} recorded for these runs." if keys else
                   "No metric points recorded for these runs (a run logs them with bth.log).",
                   err=True)
        return
    wide = points.pivot(on="key", index=["run_id", "step"], values="value",
                        aggregate_function="last", maintain_order=True)
    names = [c for c in wide.columns if c not in ("run_id", "step")]
    headers = (["run"] if several else []) + ["step", *names]
    rows = [([row["run_id"][:render.SHORT_ID]] if several else [])
            + [str(row["step"]), *(_number(row[k]) for k in names)]
            for row in wide.iter_rows(named=True)]
    render.echo_table(headers, rows)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
