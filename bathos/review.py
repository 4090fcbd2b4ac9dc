"""Campaign review: statistics per arm, each arm against a baseline, and what looks wrong.

Pure: polars frames in, a `CampaignReview` of polars frames out, no I/O (`CampaignHandle.review`
gathers the frames from the catalog). scipy (and numpy, which it brings) are imported when a
review is computed, never by `import bathos` or `bth run`.

The statistics, with the thresholds below (docs/campaigns.md explains how to read them):

- Only completed runs' values count, and only finite ones (NaN and ±inf are anomalies).
- Per arm and metric: n, mean, sd (n − 1), median, quartiles (linear), min, max; a 95% t interval
  for the mean; a 95% percentile bootstrap interval for the median (BOOTSTRAP_RESAMPLES
  resamples from a generator seeded with BOOTSTRAP_SEED, so a review is the same every time).
- Each arm against the baseline: the difference of means with Welch's 95% interval, Hedges' g
  (pooled sd, small-sample factor 1 − 3 / (4 (n1 + n2) − 9)), Cliff's delta (from Mann–Whitney's
  U: 2U / (n1 n2) − 1), Welch's t and Mann–Whitney U p-values (two-sided), each family adjusted
  across every comparison of the review with MIN_RUNS values on both sides: Holm, or
  Benjamini–Hochberg with `fdr`.
- A verdict needs MIN_RUNS finite values in both arms; it calls a difference when the adjusted
  Welch p is below ALPHA.
- Outliers: robust z = (x − median) / (1.4826 MAD) beyond OUTLIER_Z (Iglewicz and Hoaglin; a MAD
  of 0 is replaced by 1.2533 times the mean absolute deviation), in an arm of at least
  MIN_OUTLIER_RUNS values, on each metric and on durations.
- A host effect: Kruskal–Wallis across hosts (each with HOST_MIN_RUNS completed runs) on each
  run's duration divided by its arm's median duration; named when p < ALPHA and the slowest
  host's median ratio is at least HOST_SLOWER times the others'.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bathos.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

MIN_RUNS = 3
ALPHA = 0.05
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
_BOOTSTRAP_CELLS = 4_000_000  # values resampled at once (32 MB), however many runs an arm has
OUTLIER_Z = 3.5
MEAN_AD_TO_SD = 1.253314  # sqrt(pi / 2)
MIN_OUTLIER_RUNS = 5
HOST_MIN_RUNS = 3
HOST_SLOWER = 1.1
NOT_COMPLETED = ("failed", "interrupted", "lost", "running")
STALE = ("stale", "stale-upstream")
# A metric's direction, read from the words of its name when not given: `val_loss` is better
# lower, `test_acc` higher; a name with words of both kinds, or neither, has none.
LOWER_WORDS = frozenset({"loss", "error", "err", "mse", "rmse", "mae", "nll", "perplexity", "ppl",
                         "regret", "wer", "cer", "latency", "time", "duration", "runtime"})
HIGHER_WORDS = frozenset({"acc", "accuracy", "auc", "f1", "precision", "recall", "score",
                          "reward", "return", "speedup", "throughput", "r2", "bleu", "iou"})
_WORD = re.compile(r"[a-z0-9]+")
_UNSET = "(none)"


@attrs.frozen
class CampaignReview:
    """A campaign's review, as polars frames (the module docstring says how each is computed):

    - `values`: run_id, arm, metric, value: every completed run's value of each metric;
    - `summary`: per arm and metric: n, mean, sd, median, q1, q3, iqr, min, max, mean_ci_low,
      mean_ci_high, median_ci_low, median_ci_high;
    - `comparisons`: per arm and metric against the baseline: n, n_baseline, mean,
      mean_baseline, difference, ci_low, ci_high, hedges_g, cliffs_delta, p_welch,
      p_mann_whitney, p_adjusted and p_mann_whitney_adjusted (by `correction`);
    - `anomalies`: kind, arm, metric, run_ids, value, detail: one row per finding (outlier,
      not_finite, missing, unfinished, stale, confound, host_effect);
    - `outcomes`: arm, outcome, n, share: what the runs' sidecars judged;
    - `verdicts`: arm, metric, kind (better, worse, differs, no_difference, no_spread,
      too_few), line: one sentence per comparison, the clearest first.

    `by` names the arms (`param:NAME`, `tag` or `script`), `arms` lists them in order,
    `baseline` is the one the others are compared with; `directions` says per metric whether
    lower or higher is better (None: not known, so a difference is not called better)."""

    by: str
    arms: tuple[str, ...]
    baseline: str | None
    correction: str
    directions: dict[str, str | None]
    values: pl.DataFrame
    summary: pl.DataFrame
    comparisons: pl.DataFrame
    anomalies: pl.DataFrame
    outcomes: pl.DataFrame
    verdicts: pl.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every frame as a list of rows, NaN as null."""
        frames = {name: getattr(self, name) for name in
                  ("verdicts", "summary", "comparisons", "anomalies", "outcomes", "values")}
        return {"by": self.by, "arms": list(self.arms), "baseline": self.baseline,
                "correction": self.correction, "alpha": ALPHA, "confidence": CONFIDENCE,
                "min_runs": MIN_RUNS, "directions": self.directions,
                **{name: [{k: _plain(v) for k, v in row.items()}
                          for row in frame.iter_rows(named=True)]
                   for name, frame in frames.items()}}

    def plot(self, path: str | Path) -> Path:
        """Draw the review into `path` (.png or .svg): one panel per metric, each run a point,
        each arm's mean with its 95% interval. Needs matplotlib (the `bathos[plot]` extra)."""
        from bathos.plot import plot_review

        return plot_review(self, Path(path))


def review_runs(runs: pl.DataFrame, *, final_metrics: pl.DataFrame | None = None,
                freshness: pl.DataFrame | None = None, by: str | None = None,
                baseline: str | None = None, fdr: bool = False,
                metrics: Sequence[str] | None = None, lower_is_better: Sequence[str] = (),
                higher_is_better: Sequence[str] = ()) -> CampaignReview:
    """Review the runs of `runs` (a frame as `Catalog.runs(...).to_polars()` gives it, params
    and results as Structs or flattened, plus optional `dependencies` (the view's list of
    structs) and `packages` (a fingerprint) columns).

    `final_metrics` (run_id, key, step, value, as `Catalog.metrics` gives) adds each run's last
    value of each key its results lack; `freshness` (run_id, verdict[, reasons], as
    `CheckReport.to_polars` gives) names stale runs. `by` makes the arms: `param:NAME` (its
    values), `tag` (the tags not every run has) or `script`; by default the one param that
    varies across the runs (a seed, or a param that differs in every run, does not count), else
    the scripts. `baseline` is an arm (its label or value); by default the arm named `baseline`,
    else the first. `metrics` limits the review to these results; `lower_is_better` and
    `higher_is_better` name a metric's direction where its name does not tell it."""
    import polars as pl

    frame = _normalised(runs)
    by = by or _default_by(frame)
    labels, order = _arms(frame, by)
    frame = frame.with_columns(pl.Series("arm", labels, dtype=pl.String))
    arms = tuple(order)
    base = _baseline(arms, baseline, by)
    values = _values(frame, arms, final_metrics, metrics)
    keys = list(dict.fromkeys(values["metric"].to_list()))
    directions = {k: _direction(k, lower_is_better, higher_is_better) for k in keys}
    finite = values.filter(pl.col("value").is_finite())
    summary = _summary(finite, arms, keys)
    comparisons = _comparisons(finite, arms, base, keys, fdr=fdr)
    return CampaignReview(
        by=by, arms=arms, baseline=base, correction="fdr_bh" if fdr else "holm",
        directions=directions, values=values, summary=summary, comparisons=comparisons,
        anomalies=_anomalies(frame, values, freshness, arms),
        outcomes=_outcomes(frame, arms), verdicts=_verdicts(comparisons, directions, base, fdr))


# the runs ------------------------------------------------------------------------------------
def _normalised(runs: pl.DataFrame) -> pl.DataFrame:
    """`runs` with params and results flattened (`params.lr`), every optional column present."""
    import polars as pl

    if "id" not in runs.columns:
        raise ConfigError("the runs to review have no id column (give them as Catalog.runs "
                          "lists them)")
    frame = runs
    for name in ("params", "results"):
        struct = frame.schema.get(name)
        if isinstance(struct, pl.Struct):
            frame = frame.with_columns(pl.col(name).struct.field(f.name).alias(f"{name}.{f.name}")
                                       for f in struct.fields).drop(name)
    if "status" not in frame.columns:  # values without statuses: runs that completed
        frame = frame.with_columns(status=pl.lit("completed"))
    defaults: dict[str, pl.DataType] = {
        "script": pl.String(), "hostname": pl.String(), "commit": pl.String(),
        "packages": pl.String(), "outcome": pl.String(), "duration_s": pl.Float64(),
        "tags": pl.List(pl.String())}
    return frame.with_columns(pl.lit(None, dtype=kind).alias(name)
                              for name, kind in defaults.items() if name not in frame.columns)


def _param_names(frame: pl.DataFrame) -> list[str]:
    return [c.removeprefix("params.") for c in frame.columns if c.startswith("params.")]


def _default_by(frame: pl.DataFrame) -> str:
    """The one param every run has that takes several values, none of them unique to one run
    and not a seed; else `script`. ConfigError when several params qualify."""
    varying = []
    for name in _param_names(frame):
        column = frame[f"params.{name}"]
        distinct = column.n_unique()
        if ("seed" in name.lower() or column.null_count() or distinct < 2
                or distinct == frame.height):
            continue
        varying.append(name)
    if len(varying) > 1:
        raise ConfigError(f"params {', '.join(varying)} all vary across the campaign's runs: "
                          f"say which one makes the arms (e.g. by='param:{varying[0]}')",
                          hint=f"--by param:{varying[0]}")
    return f"param:{varying[0]}" if varying else "script"


def _arms(frame: pl.DataFrame, by: str) -> tuple[list[str], list[str]]:
    """Each run's arm label, and the arms in order (a param's values in their order, numbers
    as numbers; tags and scripts alphabetically; the runs without one last)."""
    kind, _, name = by.partition(":")
    if kind == "param" and name:
        if name not in _param_names(frame):
            known = ", ".join(_param_names(frame)) or "none"
            raise ConfigError(f"no param {name!r} in the campaign's runs (their params: {known})")
        cells = frame[f"params.{name}"].to_list()
        keyed = [(_sort_key(v), f"{name}={_label(v)}") for v in cells]
    elif by == "tag":
        tag_sets = [set(t or ()) for t in frame["tags"].to_list()]
        shared = set.intersection(*tag_sets) if tag_sets else set()
        keyed = [(_sort_key("+".join(sorted(t - shared)) or None),
                  "+".join(sorted(t - shared)) or "untagged") for t in tag_sets]
    elif by == "script":
        keyed = [(_sort_key(s), _label(s)) for s in frame["script"].to_list()]
    else:
        raise ConfigError(f"cannot make arms by {by!r} (by a param: 'param:NAME', or by 'tag' "
                          "or 'script')")
    order = [label for _, label in sorted(set(keyed))]
    return [label for _, label in keyed], list(dict.fromkeys(order))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _label(value: Any) -> str:
    """A value as an arm's label shows it: `0.1`, `true`, `(none)`."""
    if value is None:
        return _UNSET
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _baseline(arms: tuple[str, ...], wanted: str | None, by: str) -> str | None:
    """The arm named `wanted` (its label, or a param's value: `0.1` for `lr=0.1`, numbers by
    value); by default the arm `baseline` (or `NAME=baseline`), else the first; None with one
    arm."""
    if wanted is None:
        if len(arms) < 2:
            return None
        return next((a for a in arms if a.rpartition("=")[2] == "baseline"), arms[0])
    from bathos.provenance.params import param_value

    def matches(arm: str) -> bool:
        value = arm.partition("=")[2] if by.startswith("param:") else arm
        given, held = param_value(wanted), param_value(value)
        return wanted in (arm, value) or (isinstance(given, int | float)
                                          and not isinstance(given, bool) and given == held)

    found = next((a for a in arms if matches(a)), None)
    if found is None:
        raise ConfigError(f"no arm {wanted!r} to take as the baseline (the arms by {by}: "
                          f"{', '.join(arms)})")
    return found


def _values(frame: pl.DataFrame, arms: Sequence[str], final_metrics: pl.DataFrame | None,
            wanted: Sequence[str] | None) -> pl.DataFrame:
    """run_id, arm, metric, value (Float64): every completed run's numeric results, and the
    last logged value of each key its results lack, of the `wanted` metrics (default: all)."""
    import polars as pl

    done = frame.filter(pl.col("status") == "completed")
    numeric = [c for c in done.columns if c.startswith("results.") and done.schema[c].is_numeric()]
    long = (done.select("id", "arm", *numeric)
            .unpivot(index=["id", "arm"], on=numeric, variable_name="metric")
            .with_columns(pl.col("metric").str.strip_prefix("results."),
                          pl.col("value").cast(pl.Float64)) if numeric else
            pl.DataFrame(schema={"id": pl.String, "arm": pl.String, "metric": pl.String,
                                 "value": pl.Float64}))
    long = long.rename({"id": "run_id"}).drop_nulls("value")
    if final_metrics is not None and final_metrics.height:
        last = (final_metrics.sort("step").group_by("run_id", "key").agg(pl.col("value").last())
                .rename({"key": "metric"})
                .join(done.select(pl.col("id").alias("run_id"), "arm"), on="run_id")
                .select("run_id", "arm", "metric", pl.col("value").cast(pl.Float64)))
        long = pl.concat([long, last.join(long, on=["run_id", "metric"], how="anti")])
    present = list(dict.fromkeys(long["metric"].to_list()))
    if wanted:
        unknown = [k for k in wanted if k not in present]
        if unknown:
            raise ConfigError(f"no result {', '.join(map(repr, unknown))} in the completed runs "
                              f"reviewed (their numeric results: {', '.join(present) or 'none'})")
        long = long.filter(pl.col("metric").is_in(list(wanted)))
    order = list(wanted) if wanted else sorted(present)
    rank = {name: i for i, name in enumerate(order)}
    arm_rank = {arm: i for i, arm in enumerate(arms)}
    return long.sort(pl.col("metric").replace_strict(rank, return_dtype=pl.Int64),
                     pl.col("arm").replace_strict(arm_rank, return_dtype=pl.Int64), "run_id")


def _direction(metric: str, lower: Sequence[str], higher: Sequence[str]) -> str | None:
    if metric in lower:
        return "lower"
    if metric in higher:
        return "higher"
    words = set(_WORD.findall(metric.lower()))
    is_lower, is_higher = bool(words & LOWER_WORDS), bool(words & HIGHER_WORDS)
    if is_lower == is_higher:
        return None  # neither, or words of both kinds
    return "lower" if is_lower else "higher"


# statistics ----------------------------------------------------------------------------------
def _groups(finite: pl.DataFrame, arms: Sequence[str],
            keys: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
    """Each arm's finite values of each metric, in review order."""
    import numpy as np

    held = {(arm, metric): np.asarray(values, dtype=float)
            for arm, metric, values in finite.group_by("arm", "metric").agg("value").iter_rows()}
    return {(a, k): held[(a, k)] for k in keys for a in arms if (a, k) in held}


def _summary(finite: pl.DataFrame, arms: Sequence[str], keys: Sequence[str]) -> pl.DataFrame:
    import polars as pl

    rows = [{"arm": arm, "metric": metric, **_describe(x)}
            for (arm, metric), x in _groups(finite, arms, keys).items()]
    schema = {"arm": pl.String, "metric": pl.String, "n": pl.Int64,
              **dict.fromkeys(("mean", "sd", "median", "q1", "q3", "iqr", "min", "max",
                               "mean_ci_low", "mean_ci_high", "median_ci_low",
                               "median_ci_high"), pl.Float64)}
    return pl.DataFrame(rows, schema=schema)


def _describe(x: np.ndarray) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    n = len(x)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if n > 1 else None
    q1, median, q3 = (float(q) for q in np.quantile(x, [0.25, 0.5, 0.75]))
    mean_ci: tuple[float | None, float | None] = (None, None)
    median_ci = mean_ci
    if n > 1:
        half = float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1)) * (sd or 0.0) / math.sqrt(n)
        mean_ci = (mean - half, mean + half)
        median_ci = _median_interval(x)
    return {"n": n, "mean": mean, "sd": sd, "median": median, "q1": q1, "q3": q3,
            "iqr": q3 - q1, "min": float(np.min(x)), "max": float(np.max(x)),
            "mean_ci_low": mean_ci[0], "mean_ci_high": mean_ci[1],
            "median_ci_low": median_ci[0], "median_ci_high": median_ci[1]}


def _median_interval(x: np.ndarray) -> tuple[float, float]:
    """The percentile bootstrap interval of the median (fixed seed: the same every review)."""
    import numpy as np
    from scipy import stats

    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    found = stats.bootstrap((x,), np.median, n_resamples=BOOTSTRAP_RESAMPLES,
                            batch=max(1, _BOOTSTRAP_CELLS // len(x)), confidence_level=CONFIDENCE,
                            method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def _comparisons(finite: pl.DataFrame, arms: Sequence[str], base: str | None,
                 keys: Sequence[str], *, fdr: bool) -> pl.DataFrame:
    """Each arm against the baseline, per metric; the p-values of those with MIN_RUNS values
    on both sides (the ones a verdict may rest on) adjusted together."""
    import polars as pl

    groups = _groups(finite, arms, keys)
    rows = [{"arm": arm, "metric": metric, **_compare(groups[(arm, metric)],
                                                      groups[(base, metric)])}
            for metric in keys for arm in arms if base is not None and arm != base
            and (arm, metric) in groups and (base, metric) in groups]
    schema = {"arm": pl.String, "metric": pl.String, "n": pl.Int64, "n_baseline": pl.Int64,
              **dict.fromkeys(("mean", "mean_baseline", "difference", "ci_low", "ci_high",
                               "hedges_g", "cliffs_delta", "p_welch", "p_mann_whitney"),
                              pl.Float64)}
    frame = pl.DataFrame(rows, schema=schema)
    counted = [min(r["n"], r["n_baseline"]) >= MIN_RUNS for r in rows]
    return frame.with_columns(
        pl.Series(f"{name}_adjusted" if name != "p_welch" else "p_adjusted", adjusted(
            [p if keep else None for p, keep in zip(frame[name], counted, strict=True)],
            fdr=fdr), pl.Float64)
        for name in ("p_welch", "p_mann_whitney"))


def _compare(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Arm `x` against baseline `y`: None where a statistic cannot be had (too few values, no
    spread)."""
    import warnings

    import numpy as np
    from scipy import stats

    n1, n2 = len(x), len(y)
    row: dict[str, Any] = {"n": n1, "n_baseline": n2, "mean": float(np.mean(x)),
                           "mean_baseline": float(np.mean(y))}
    row["difference"] = row["mean"] - row["mean_baseline"]
    spread = n1 > 1 and n2 > 1 and (np.ptp(x) > 0 or np.ptp(y) > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if spread:
            welch = stats.ttest_ind(x, y, equal_var=False)
            interval = welch.confidence_interval(CONFIDENCE)
            pooled = math.sqrt(((n1 - 1) * np.var(x, ddof=1) + (n2 - 1) * np.var(y, ddof=1))
                               / (n1 + n2 - 2))
            row.update(ci_low=float(interval.low), ci_high=float(interval.high),
                       p_welch=float(welch.pvalue),
                       hedges_g=(1 - 3 / (4 * (n1 + n2) - 9)) * row["difference"] / pooled)
        u = stats.mannwhitneyu(x, y, alternative="two-sided")
    row.update(cliffs_delta=2 * float(u.statistic) / (n1 * n2) - 1,
               p_mann_whitney=float(u.pvalue) if spread else None)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def adjusted(p_values: Sequence[float | None], *, fdr: bool = False) -> list[float | None]:
    """The p-values adjusted for being tested together: Holm's step-down (family-wise error),
    or Benjamini–Hochberg's (false discovery rate) with `fdr`; None stays None and is not
    counted."""
    import numpy as np
    from scipy import stats

    present = [i for i, p in enumerate(p_values) if p is not None]
    found: list[float | None] = [None] * len(p_values)
    if not present:
        return found
    p = np.asarray([p_values[i] for i in present], dtype=float)
    if fdr:
        fixed = stats.false_discovery_control(p, method="bh")
    else:
        order = np.argsort(p, kind="stable")
        steps = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
        fixed = np.empty_like(p)
        fixed[order] = steps
    for i, value in zip(present, fixed, strict=True):
        found[i] = float(value)
    return found


# verdicts ------------------------------------------------------------------------------------
_KIND_ORDER = {"better": 0, "worse": 0, "differs": 0, "no_difference": 1, "no_spread": 2,
               "too_few": 3}


def _verdicts(comparisons: pl.DataFrame, directions: dict[str, str | None], base: str | None,
              fdr: bool) -> pl.DataFrame:
    import polars as pl

    rows = [_verdict(row, directions.get(row["metric"]), base or "", "p_bh" if fdr else "p_holm")
            for row in comparisons.iter_rows(named=True)]
    frame = pl.DataFrame(rows, schema={"arm": pl.String, "metric": pl.String, "kind": pl.String,
                                       "line": pl.String, "rank": pl.Int64, "p": pl.Float64})
    return frame.sort("rank", pl.col("p").fill_null(2.0), maintain_order=True).drop("rank", "p")


def _verdict(row: dict[str, Any], direction: str | None, base: str, p_name: str) -> dict[str, Any]:
    arm, metric, n1, n2 = row["arm"], row["metric"], row["n"], row["n_baseline"]
    sizes = f"n = {n1} vs {n2}"
    against = f"baseline ({base}) on {metric}"
    p = row["p_adjusted"]
    if min(n1, n2) < MIN_RUNS:
        kind = "too_few"
        line = (f"{arm} vs {against}: too few runs to conclude ({sizes}; {MIN_RUNS} per arm "
                "at least)")
    elif p is None:
        kind = "no_spread"
        line = (f"{arm} vs {against}: every run of each arm gave one value "
                f"({_num(row['mean'])} vs {_num(row['mean_baseline'])}), nothing to test ({sizes})")
    else:
        difference = row["difference"]
        if p >= ALPHA:
            kind, verb = "no_difference", "shows no clear difference from"
        elif direction is None:
            kind, verb = "differs", "differs from"
        else:
            better = (difference < 0) == (direction == "lower")
            kind, verb = ("better", "beats") if better else ("worse", "is worse than")
        places = _places(row["ci_low"], row["ci_high"])
        line = (f"{arm} {verb} {against}: {_fixed(difference, places, sign=True)} "
                f"[{_fixed(row['ci_low'], places)}, {_fixed(row['ci_high'], places)}], "
                f"g = {_num(row['hedges_g'], digits=2)}, {p_name} {_p(p)}, {sizes}")
    return {"arm": arm, "metric": metric, "kind": kind, "line": line, "rank": _KIND_ORDER[kind],
            "p": p}


def _num(value: float | None, *, digits: int = 3) -> str:
    """`digits` significant digits, with a true minus sign."""
    return "n/a" if value is None else f"{value:.{digits}g}".replace("-", "−")


def _places(low: float, high: float) -> int:
    """Decimal places that show an interval's half-width to two significant digits."""
    half = abs(high - low) / 2
    return max(0, 1 - math.floor(math.log10(half))) if half > 0 else 3


def _fixed(value: float, places: int, *, sign: bool = False) -> str:
    return f"{value:{'+' if sign else ''}.{places}f}".replace("-", "−")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.2g}"


# anomalies -----------------------------------------------------------------------------------
def _anomalies(frame: pl.DataFrame, values: pl.DataFrame, freshness: pl.DataFrame | None,
               arms: Sequence[str]) -> pl.DataFrame:
    import polars as pl

    found: list[dict[str, Any]] = []
    durations = frame.filter(pl.col("status") == "completed").select(
        pl.col("id").alias("run_id"), "arm", pl.lit("duration_s").alias("metric"),
        pl.col("duration_s").cast(pl.Float64).alias("value")).drop_nulls("value")
    for check in (_confounds(frame, arms), _host_effect(frame), _unfinished(frame, arms),
                  _not_finite(values), _outliers(values.filter(pl.col("value").is_finite())),
                  _outliers(durations), _missing(frame, values), _stale(frame, freshness)):
        found += check
    return pl.DataFrame(found, schema={"kind": pl.String, "arm": pl.String, "metric": pl.String,
                                       "run_ids": pl.List(pl.String), "value": pl.Float64,
                                       "detail": pl.String})


def _finding(kind: str, arm: str | None, metric: str | None, run_ids: Sequence[str],
             detail: str, value: float | None = None) -> dict[str, Any]:
    return {"kind": kind, "arm": arm, "metric": metric, "run_ids": list(run_ids),
            "value": value, "detail": detail}


def _not_finite(values: pl.DataFrame) -> list[dict[str, Any]]:
    import polars as pl

    bad = values.filter(~pl.col("value").is_finite())
    return [_finding("not_finite", arm, metric, [run], f"run {run}: {metric} is {value} (left "
                     "out of the statistics)")
            for run, arm, metric, value in bad.select("run_id", "arm", "metric",
                                                      "value").iter_rows()]


def _missing(frame: pl.DataFrame, values: pl.DataFrame) -> list[dict[str, Any]]:
    """Completed runs of an arm without a metric the arm's other runs have."""
    import polars as pl

    done = frame.filter(pl.col("status") == "completed").select("id", "arm")
    found = []
    for (arm, metric), held in values.group_by("arm", "metric", maintain_order=True):
        lacking = done.filter((pl.col("arm") == arm)
                              & ~pl.col("id").is_in(held["run_id"].implode()))["id"].to_list()
        if lacking:
            found.append(_finding("missing", str(arm), str(metric), lacking,
                                  f"{_runs(len(lacking))} of {arm} completed without {metric}"))
    return found


def _unfinished(frame: pl.DataFrame, arms: Sequence[str]) -> list[dict[str, Any]]:
    """Per arm, the share of its runs that did not complete."""
    import polars as pl

    found = []
    for arm in arms:
        runs = frame.filter(pl.col("arm") == arm)
        bad = runs.filter(pl.col("status").is_in(NOT_COMPLETED))
        if bad.height:
            counts = bad.group_by("status").len().sort("status")
            said = ", ".join(f"{n} {status}" for status, n in counts.iter_rows())
            found.append(_finding(
                "unfinished", arm, None, bad["id"].to_list(),
                f"{arm}: {said} of {_runs(runs.height)} (the statistics use the "
                f"{runs.height - bad.height} that completed)", bad.height / runs.height))
    return found


def _outliers(values: pl.DataFrame) -> list[dict[str, Any]]:
    """Values beyond OUTLIER_Z robust z-scores of their arm's median (per arm and metric)."""
    import numpy as np
    from scipy import stats

    found = []
    for (arm, metric), group in values.group_by("arm", "metric", maintain_order=True):
        if group.height < MIN_OUTLIER_RUNS:
            continue
        x = group["value"].to_numpy()
        median = float(np.median(x))
        # with more than half the values equal the MAD is 0: the mean absolute deviation
        # stands in, scaled to the sd of a normal distribution as the MAD is
        scale = (float(stats.median_abs_deviation(x, scale="normal"))
                 or MEAN_AD_TO_SD * float(np.mean(np.abs(x - median))))
        if scale == 0:
            continue
        for run, value in zip(group["run_id"].to_list(), x, strict=True):
            z = (float(value) - median) / scale
            if abs(z) > OUTLIER_Z:
                found.append(_finding(
                    "outlier", str(arm), str(metric), [run],
                    f"run {run} of {arm}: {metric} {_num(float(value))} is {_num(abs(z))} "
                    f"robust SDs from the arm's median {_num(median)}", z))
    return found


def _stale(frame: pl.DataFrame, freshness: pl.DataFrame | None) -> list[dict[str, Any]]:
    """Per arm, the runs whose results are no longer valid (what they depended on changed)."""
    import polars as pl

    if freshness is None or not freshness.height:
        return []
    stale = frame.select("id", "arm").join(
        freshness.filter(pl.col("verdict").is_in(STALE)), left_on="id", right_on="run_id")
    found = []
    for (arm,), group in stale.group_by("arm", maintain_order=True):
        reasons = group["reasons"].to_list() if "reasons" in group.columns else []
        paths = sorted({r["path"] for held in reasons for r in held or () if r.get("path")})
        changed = (f" ({', '.join(paths[:3])}{' …' if len(paths) > 3 else ''} changed since)"
                   if paths else "")
        found.append(_finding("stale", str(arm), None, group["id"].to_list(),
                              f"{_runs(group.height)} of {arm} no longer valid{changed}"))
    return found


def _confounds(frame: pl.DataFrame, arms: Sequence[str]) -> list[dict[str, Any]]:
    """Arms whose completed runs differ in what should be the same: the code they read (each
    file's hash; their commits where a run's files are not known, as a commit that changed none
    of them changes nothing), the host, the installed packages."""
    deps = (frame["dependencies"].to_list() if "dependencies" in frame.columns
            else [None] * frame.height)
    files = [{d["path"]: d.get("sha256") for d in run or () if d.get("path")} for run in deps]
    code = [hashlib.sha256(repr(sorted(f.items())).encode()).hexdigest() if f else None
            for f in files]
    commits = [c[:8] if c else None for c in frame["commit"]]
    hosts = frame["hostname"].to_list()
    packages = [p[:19] if p else None for p in frame["packages"]]
    labels, ids = frame["arm"].to_list(), frame["id"].to_list()
    completed = [status == "completed" for status in frame["status"]]
    found = []
    for arm in arms:
        picked = [i for i, label in enumerate(labels) if label == arm and completed[i]]
        by_code = all(code[i] for i in picked)
        for phrase, cells in [("ran from {} versions of the code it read", code) if by_code else
                              ("ran from {} commits", commits), ("ran on {} hosts", hosts),
                              ("ran with {} package sets", packages)]:
            held = [str(cells[i]) for i in picked if cells[i] is not None]
            kinds = len(set(held))
            if kinds < 2:
                continue
            said = (_differing([files[i] for i in picked]) if cells is code else _counted(held))
            found.append(_finding("confound", arm, None, [ids[i] for i in picked],
                                  f"{arm} {phrase.format(kinds)}: {said}", float(kinds)))
    return found


def _counted(cells: list[str]) -> str:
    from collections import Counter

    return ", ".join(f"{value} ({_runs(n)})" for value, n in Counter(cells).most_common())


def _differing(files: list[dict[str, str | None]]) -> str:
    """The files whose content is not the same in every run of `files` (path -> hash each)."""
    paths = sorted({p for f in files for p in f})
    changed = [p for p in paths if len({f.get(p) for f in files if f}) > 1]
    return (f"{', '.join(changed[:3])}{' …' if len(changed) > 3 else ''} "
            f"{'differs' if len(changed) == 1 else 'differ'}")


def _host_effect(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The slowest host, if durations differ by host beyond chance once each run's duration is
    divided by its arm's median (so an arm of long runs on one host does not look slow)."""
    import polars as pl
    from scipy import stats

    done = frame.filter((pl.col("status") == "completed") & pl.col("hostname").is_not_null()
                        & (pl.col("duration_s") > 0))
    ratios = done.with_columns(
        (pl.col("duration_s") / pl.col("duration_s").median().over("arm")).alias("ratio"))
    hosts = [(host, group) for (host,), group in ratios.group_by("hostname")
             if group.height >= HOST_MIN_RUNS]
    if len(hosts) < 2:
        return []
    p = float(stats.kruskal(*(group["ratio"].to_numpy() for _, group in hosts)).pvalue)
    medians = {str(host): float(group["ratio"].median()) for host, group in hosts}  # type: ignore[arg-type]
    slowest = max(medians, key=lambda h: medians[h])
    others = [m for h, m in medians.items() if h != slowest]
    typical = sorted(others)[len(others) // 2]
    if not (p < ALPHA and medians[slowest] >= HOST_SLOWER * typical):
        return []
    slow = next(group for host, group in hosts if host == slowest)
    return [_finding(
        "host_effect", None, "duration_s", slow["id"].to_list(),
        f"host {slowest} is slower: its runs took {medians[slowest] / typical:.2g}× as long as "
        f"on the other hosts, relative to their arm's median (Kruskal–Wallis p {_p(p)} across "
        f"{len(hosts)} hosts)", p)]


def _outcomes(frame: pl.DataFrame, arms: Sequence[str]) -> pl.DataFrame:
    import polars as pl

    rank = {arm: i for i, arm in enumerate(arms)}
    return (frame.group_by("arm", pl.col("outcome").fill_null("none")).len("n")
            .with_columns(pl.col("n").cast(pl.Int64))
            .with_columns((pl.col("n") / pl.col("n").sum().over("arm")).alias("share"))
            .sort(pl.col("arm").replace_strict(rank, return_dtype=pl.Int64), pl.col("n"),
                  "outcome", descending=[False, True, False]))


def _runs(n: int) -> str:
    return f"{n} run" + ("" if n == 1 else "s")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity: the not_finite anomaly says which it was
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
