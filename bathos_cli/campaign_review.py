"""`bth campaign review`: a campaign's statistics, verdict lines first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bathos_cli import render

if TYPE_CHECKING:
    import polars as pl

    from bathos.review import CampaignReview


# A verdict line's colour on a terminal: a difference called one way or the other stands out.
_VERDICT_COLOURS = {"better": "green", "worse": "red", "differs": "yellow"}


def _plot_path(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    from bathos.plot import FORMATS

    if value is not None and value.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{value} is no {' or '.join(FORMATS)} file")
    return value


@click.command("review")
@click.argument("campaign_id", metavar="ID")
@click.option("--by", metavar="param:NAME|tag|script",
              help="What makes the arms: a param's values, the tags not every run has, or the "
                   "script (default: the one param that varies, seeds aside; else the script).")
@click.option("--baseline", metavar="ARM",
              help="The arm the others are compared with: its label or value, e.g. 0.01 for "
                   "lr=0.01 (default: the arm 'baseline', else the first).")
@click.option("--fdr", is_flag=True,
              help="Adjust p-values by Benjamini–Hochberg (false discovery rate), not Holm.")
@click.option("--metric", "metrics", multiple=True, metavar="KEY",
              help="Only this result or metric (repeatable; default: every numeric one).")
@click.option("--lower-is-better", "lower", multiple=True, metavar="KEY",
              help="A smaller KEY is better (repeatable; names like loss, error, time are).")
@click.option("--higher-is-better", "higher", multiple=True, metavar="KEY",
              help="A larger KEY is better (repeatable; names like acc, f1, score are).")
@click.option("--json", "json_", is_flag=True, help="Print JSON with every number.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), callback=_plot_path,
              metavar="FILE.png|svg", help="Also draw each metric per arm into this file "
              "(needs matplotlib: pip install 'bathos[plot]').")
def review(campaign_id: str, by: str | None, baseline: str | None, fdr: bool,
           metrics: tuple[str, ...], lower: tuple[str, ...], higher: tuple[str, ...],
           json_: bool, plot: Path | None) -> None:
    """Review a campaign's runs: per arm and metric n, mean, sd, median, IQR and 95% intervals;
    each arm against the baseline (difference with Welch's interval, Hedges' g, Cliff's delta,
    Welch and Mann–Whitney p-values adjusted across every comparison); anomalies (outliers,
    failed runs, stale results, arms mixing code versions, hosts or packages, a slow host);
    sidecar outcomes. The verdict lines come first."""
    from bathos.catalog.catalog import Catalog

    found = Catalog().campaign(campaign_id).review(
        by=by, baseline=baseline, fdr=fdr, metrics=list(metrics) or None,
        lower_is_better=lower, higher_is_better=higher)
    if json_:
        render.echo_json({"campaign": campaign_id, **found.to_dict()}, indent=2)
    else:
        _echo(found)
    if plot is not None:
        found.plot(plot)
        click.echo(f"Plot written to {plot}.", err=True)


def _echo(found: CampaignReview) -> None:
    for kind, line in found.verdicts.select("kind", "line").iter_rows():
        click.secho(line, fg=_VERDICT_COLOURS.get(kind), bold=kind in _VERDICT_COLOURS)
    if found.verdicts.is_empty():
        click.echo(f"One arm ({found.arms[0]}): nothing to compare it with." if len(found.arms) < 2
                   else "No arm and the baseline both have completed runs with a numeric result: "
                   "nothing to compare.")
    adjusted = "Benjamini–Hochberg" if found.correction == "fdr_bh" else "Holm"
    click.echo(f"\nArms by {found.by}: {', '.join(found.arms)}"
               + (f"; baseline {found.baseline}; p-values {adjusted}-adjusted across "
                  f"{render.counted(found.comparisons.height, 'comparison')}"
                  if found.baseline else ""))
    if not found.anomalies.is_empty():
        _section("Anomalies", found.anomalies, {"kind": "kind", "detail": "detail"})
    _section("Per arm", found.summary, {
        "arm": "arm", "metric": "metric", "n": "n", "mean": "mean", "sd": "sd",
        "median": "median", "iqr": "IQR", "min": "min", "max": "max",
        "mean_ci": "95% CI mean", "median_ci": "95% CI median"})
    if not found.comparisons.is_empty():
        _section("Against the baseline", found.comparisons, {
            "arm": "arm", "metric": "metric", "difference": "difference", "ci": "95% CI",
            "hedges_g": "g", "cliffs_delta": "Cliff's δ", "p_welch": "p Welch",
            "p_mann_whitney": "p M-W", "p_adjusted": f"p {adjusted}"})
    _section("Outcomes", found.outcomes, {"arm": "arm", "outcome": "outcome", "n": "n",
                                          "share": "share"})


def _section(title: str, frame: pl.DataFrame, headings: dict[str, str]) -> None:
    """A titled table of `frame`'s columns (and intervals) under `headings`."""
    click.echo()
    click.secho(f"{title}:", bold=True)
    rows = []
    for row in frame.iter_rows(named=True):
        row = {**row, "mean_ci": _interval(row, "mean_ci"), "median_ci": _interval(row,
                                                                                   "median_ci"),
               "ci": _interval(row, "ci")}
        rows.append([_cell(row[key]) for key in headings])
    render.echo_table(list(headings.values()), rows)


def _interval(row: dict[str, Any], name: str) -> str | None:
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    return None if low is None or high is None else f"[{_cell(low)}, {_cell(high)}]"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return render.cell(value)
