"""Pictures of a campaign review: the only module that imports matplotlib (the `bathos[plot]`
extra), and only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bathos.errors import ConfigError

if TYPE_CHECKING:
    from bathos.review import CampaignReview

FORMATS = (".png", ".svg")
_PANEL_INCHES = (3.6, 3.2)


def plot_review(review: CampaignReview, path: Path) -> Path:
    """Draw `review` into `path`: one panel per metric, each arm's runs as points (spread a
    little sideways so equal values stay visible), its mean as a bar with the 95% t interval,
    the baseline's mean as a dashed line. The file is written whole or not at all."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"cannot plot into {path}: name a .png or .svg file")
    if review.values.is_empty():
        raise ConfigError("nothing to plot: the completed runs reviewed have no numeric results")
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib, which is not installed (pip install "
                          "'bathos[plot]')") from None
    matplotlib.use("Agg")  # files only: no display needed, none opened
    from matplotlib.figure import Figure

    from bathos.fsutil import atomic_write_bytes

    metrics = list(dict.fromkeys(review.values["metric"].to_list()))
    figure = Figure(figsize=(_PANEL_INCHES[0] * len(metrics), _PANEL_INCHES[1]),
                    layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        _panel(ax, review, metric)
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lower().lstrip("."), dpi=120)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _panel(ax: object, review: CampaignReview, metric: str) -> None:
    import numpy as np
    import polars as pl
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    values = review.values.filter((pl.col("metric") == metric) & pl.col("value").is_finite())
    summary = review.summary.filter(pl.col("metric") == metric)
    rng = np.random.default_rng(0)  # the same jitter every time
    for x, arm in enumerate(review.arms):
        points = values.filter(pl.col("arm") == arm)["value"].to_numpy()
        ax.scatter(x + rng.uniform(-0.12, 0.12, len(points)), points, s=14, alpha=0.6,
                   color="C0" if arm != review.baseline else "C7", zorder=2)
        row = summary.filter(pl.col("arm") == arm)
        if row.height and row["mean_ci_low"][0] is not None:
            mean = row["mean"][0]
            ax.errorbar([x + 0.28], [mean], yerr=[[mean - row["mean_ci_low"][0]],
                                                  [row["mean_ci_high"][0] - mean]],
                        fmt="o", color="C3", capsize=4, zorder=3)
        if arm == review.baseline and row.height:
            ax.axhline(row["mean"][0], color="C7", linestyle="--", linewidth=0.8, zorder=1)
    direction = review.directions.get(metric)
    ax.set_title(metric + (f" ({direction} is better)" if direction else ""), fontsize=10)
    ax.set_xticks(range(len(review.arms)),
                  [arm + (" (baseline)" if arm == review.baseline else "") for arm in review.arms],
                  rotation=30, ha="right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
