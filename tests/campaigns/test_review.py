"""`bathos.review` on plain frames: every number checked against scipy, statsmodels or the
textbook formula computed here on the same data, and each anomaly planted and found."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import polars as pl
import pytest
from records import make_run, write_runs
from scipy import stats
from statsmodels.stats.multitest import multipletests

import bathos
from bathos.errors import ConfigError
from bathos.models import Dependency, Environment, Git, Host
from bathos.review import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, review_runs

RNG = np.random.default_rng(7)
LOSS = {"0.01": RNG.normal(0.50, 0.02, 10), "0.1": RNG.normal(0.45, 0.02, 10),
        "1": RNG.normal(0.49, 0.03, 8)}
ACC = {lr: RNG.normal(0.80, 0.01, len(v)) for lr, v in LOSS.items()}


def run(n: int, lr: str, *, seed: int = 0, **fields: Any) -> dict[str, Any]:
    """A completed run's row as `Catalog.runs(...).to_polars()` gives it."""
    row = {"id": f"run-{lr}-{seed}-{n}", "status": "completed", "script": "train.py",
           "tags": ["sweep"], "params": {"lr": float(lr), "seed": seed},
           "results": {"loss": float(LOSS[lr][n]) if n < len(LOSS[lr]) else 0.5,
                       "acc": float(ACC[lr][n]) if n < len(ACC[lr]) else 0.8},
           "hostname": "node1", "commit": "a" * 40, "duration_s": 10.0 + 0.1 * n,
           "outcome": "improved"}
    row.update(fields)
    return row


def sweep() -> list[dict[str, Any]]:
    return [run(n, lr, seed=n) for lr, values in LOSS.items() for n in range(len(values))]


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows)


def hedges_g(x: np.ndarray, y: np.ndarray) -> float:
    """Hedges' g, from the textbook: Cohen's d on the pooled sd, times 1 − 3 / (4 (n1+n2) − 9)."""
    n1, n2 = len(x), len(y)
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    return float((x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (n1 + n2) - 9)))


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """(#pairs x > y − #pairs x < y) / (n1 n2), over every pair."""
    diff = x[:, None] - y[None, :]
    return float(((diff > 0).sum() - (diff < 0).sum()) / diff.size)


def test_summary_matches_numpy_and_scipy() -> None:
    review = review_runs(frame(sweep()), by="param:lr")
    assert review.arms == ("lr=0.01", "lr=0.1", "lr=1")
    row = review.summary.filter((pl.col("arm") == "lr=0.1") & (pl.col("metric") == "loss")).row(
        0, named=True)
    x = LOSS["0.1"]
    assert row["n"] == 10
    assert row["mean"] == pytest.approx(x.mean())
    assert row["sd"] == pytest.approx(x.std(ddof=1))
    assert row["median"] == pytest.approx(np.median(x))
    assert row["iqr"] == pytest.approx(stats.iqr(x))
    assert (row["min"], row["max"]) == (pytest.approx(x.min()), pytest.approx(x.max()))
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (row["mean_ci_low"], row["mean_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    boot = stats.bootstrap((x,), np.median, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                           rng=np.random.default_rng(BOOTSTRAP_SEED)).confidence_interval
    assert row["median_ci_low"] == pytest.approx(boot.low)
    assert row["median_ci_high"] == pytest.approx(boot.high)
    again = review_runs(frame(sweep()), by="param:lr")
    assert again.summary.equals(review.summary)  # a fixed seed: the same interval every time


def test_comparisons_match_scipy_statsmodels_and_the_textbook() -> None:
    review = review_runs(frame(sweep()), by="param:lr", baseline="0.01")
    assert review.baseline == "lr=0.01"
    found = review.comparisons
    assert found.select("arm", "metric").rows() == [("lr=0.1", "acc"), ("lr=1", "acc"),
                                                    ("lr=0.1", "loss"), ("lr=1", "loss")]
    welch_p, mw_p = [], []
    for arm, metric in found.select("arm", "metric").rows():
        values = LOSS if metric == "loss" else ACC
        x, y = values[arm.removeprefix("lr=")], values["0.01"]
        row = found.filter((pl.col("arm") == arm) & (pl.col("metric") == metric)).row(
            0, named=True)
        welch = stats.ttest_ind(x, y, equal_var=False)
        interval = welch.confidence_interval(0.95)
        assert row["difference"] == pytest.approx(x.mean() - y.mean())
        assert row["ci_low"] == pytest.approx(interval.low)
        assert row["ci_high"] == pytest.approx(interval.high)
        assert row["p_welch"] == pytest.approx(welch.pvalue)
        assert row["p_mann_whitney"] == pytest.approx(
            stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
        assert row["hedges_g"] == pytest.approx(hedges_g(x, y))
        assert row["cliffs_delta"] == pytest.approx(cliffs_delta(x, y))
        welch_p.append(welch.pvalue)
        mw_p.append(row["p_mann_whitney"])
    assert found["p_adjusted"].to_list() == pytest.approx(
        list(multipletests(welch_p, method="holm")[1]))
    assert found["p_mann_whitney_adjusted"].to_list() == pytest.approx(
        list(multipletests(mw_p, method="holm")[1]))
    fdr = review_runs(frame(sweep()), by="param:lr", baseline="0.01", fdr=True)
    assert fdr.correction == "fdr_bh"
    assert fdr.comparisons["p_adjusted"].to_list() == pytest.approx(
        list(multipletests(welch_p, method="fdr_bh")[1]))


def test_the_verdict_line_says_who_beats_whom_with_the_numbers() -> None:
    review = review_runs(frame(sweep()), by="param:lr", baseline="0.01")
    first = review.verdicts.row(0, named=True)
    row = review.comparisons.filter((pl.col("arm") == "lr=0.1")
                                    & (pl.col("metric") == "loss")).row(0, named=True)
    assert (first["arm"], first["metric"], first["kind"]) == ("lr=0.1", "loss", "better")
    assert first["line"].startswith("lr=0.1 beats baseline (lr=0.01) on loss: −0.0")
    assert f"g = {row['hedges_g']:.2g}".replace("-", "−") in first["line"]
    assert first["line"].endswith("n = 10 vs 10")
    assert "p_holm " in first["line"]
    assert review.directions == {"acc": "higher", "loss": "lower"}
    # with the direction turned round, the same difference is worse
    turned = review_runs(frame(sweep()), by="param:lr", baseline="0.01",
                         higher_is_better=["loss"])
    assert turned.verdicts.row(0, named=True)["kind"] == "worse"


def test_two_runs_per_arm_are_too_few_to_conclude() -> None:
    rows = [run(n, lr) for lr in ("0.01", "0.1") for n in range(2)]
    review = review_runs(frame(rows), by="param:lr", metrics=["loss"])
    (verdict,) = review.verdicts.rows(named=True)
    assert verdict["kind"] == "too_few"
    assert "too few runs to conclude (n = 2 vs 2" in verdict["line"]


def test_a_comparison_with_too_few_runs_is_not_counted_in_the_adjustment() -> None:
    rows = [r for r in sweep() if r["params"]["lr"] != 1.0 or r["params"]["seed"] < 2]
    review = review_runs(frame(rows), by="param:lr", metrics=["loss"])
    found = review.comparisons
    few = found.filter(pl.col("arm") == "lr=1").row(0, named=True)
    assert (few["n"], few["p_welch"] is not None, few["p_adjusted"]) == (2, True, None)
    enough = found.filter(pl.col("arm") == "lr=0.1").row(0, named=True)
    assert enough["p_adjusted"] == pytest.approx(enough["p_welch"])  # a family of one


def test_a_planted_outlier_is_flagged() -> None:
    rows = sweep()
    rows[3]["results"] = {**rows[3]["results"], "loss": 5.0}
    review = review_runs(frame(rows), by="param:lr")
    outliers = review.anomalies.filter(pl.col("kind") == "outlier")
    assert outliers.select("arm", "metric", "run_ids").rows() == [
        ("lr=0.01", "loss", [rows[3]["id"]])]


def test_an_outlier_among_equal_values_is_flagged() -> None:
    rows = [run(n, "0.01", results={"loss": 0.5}) for n in range(6)]
    rows[5]["results"] = {"loss": 0.9}
    review = review_runs(frame(rows))
    (outlier,) = review.anomalies.filter(pl.col("kind") == "outlier").rows(named=True)
    x = np.array([0.5] * 5 + [0.9])
    assert stats.median_abs_deviation(x) == 0  # so the mean absolute deviation stands in
    z = (0.9 - 0.5) / (math.sqrt(math.pi / 2) * np.mean(np.abs(x - 0.5)))
    assert (outlier["run_ids"], outlier["value"]) == ([rows[5]["id"]], pytest.approx(z))


def test_a_planted_confound_one_arm_on_two_commits_is_flagged() -> None:
    rows = sweep()
    for row in rows[12:15]:  # three runs of lr=0.1
        row["commit"] = "b" * 40
    review = review_runs(frame(rows), by="param:lr")
    (confound,) = review.anomalies.filter(pl.col("kind") == "confound").rows(named=True)
    assert confound["arm"] == "lr=0.1"
    assert "2 commits: aaaaaaaa (7 runs), bbbbbbbb (3 runs)" in confound["detail"]


def test_code_versions_name_the_file_that_differs() -> None:
    rows = sweep()
    for n, row in enumerate(rows):
        row["commit"] = "c" * 40 if n % 2 else "a" * 40  # commits that change no file read
        row["dependencies"] = [{"path": "train.py", "sha256": "sha256:1"},
                               {"path": "model.py", "sha256": "sha256:2"}]
    rows[0]["dependencies"] = [{"path": "train.py", "sha256": "sha256:1"},
                               {"path": "model.py", "sha256": "sha256:3"}]
    review = review_runs(frame(rows), by="param:lr")
    (confound,) = review.anomalies.filter(pl.col("kind") == "confound").rows(named=True)
    assert confound["arm"] == "lr=0.01"
    assert confound["detail"] == ("lr=0.01 ran from 2 versions of the code it read: model.py "
                                  "differs")


def test_a_planted_host_effect_is_flagged() -> None:
    rows = sweep()
    for n, row in enumerate(rows):
        row["hostname"] = f"node{n % 3}"
        row["duration_s"] = 10.0 + (n % 5) * 0.3 + (8.0 if n % 3 == 2 else 0.0)
    review = review_runs(frame(rows), by="param:lr")
    (effect,) = review.anomalies.filter(pl.col("kind") == "host_effect").rows(named=True)
    assert effect["detail"].startswith("host node2 is slower")
    assert set(effect["run_ids"]) == {r["id"] for r in rows if r["hostname"] == "node2"}
    same = review_runs(frame(sweep()), by="param:lr")
    assert same.anomalies.filter(pl.col("kind") == "host_effect").is_empty()


def test_failed_runs_non_finite_values_and_stale_runs_are_anomalies() -> None:
    rows = sweep()
    rows[0]["status"] = "failed"
    rows[1]["status"] = "lost"
    rows[2]["results"] = {**rows[2]["results"], "loss": float("nan")}
    fresh = pl.DataFrame({"run_id": [r["id"] for r in rows[10:12]], "verdict": ["stale"] * 2,
                          "reasons": [[{"path": "model.py"}]] * 2})
    review = review_runs(frame(rows), by="param:lr", freshness=fresh)
    kinds = {row["kind"]: row for row in review.anomalies.rows(named=True)}
    assert kinds["unfinished"]["detail"] == ("lr=0.01: 1 failed, 1 lost of 10 runs (the "
                                             "statistics use the 8 that completed)")
    assert kinds["unfinished"]["value"] == pytest.approx(0.2)
    assert kinds["not_finite"]["run_ids"] == [rows[2]["id"]]
    assert kinds["stale"]["detail"] == "2 runs of lr=0.1 no longer valid (model.py changed since)"
    loss = review.summary.filter((pl.col("arm") == "lr=0.01") & (pl.col("metric") == "loss"))
    assert loss["n"].to_list() == [7]  # 10, less a failed, a lost and a NaN
    held = [v["value"] for v in review.to_dict()["values"]
            if (v["run_id"], v["metric"]) == (rows[2]["id"], "loss")]
    assert held == [None]  # JSON has no NaN


def test_arms_by_default_tag_and_script() -> None:
    rows = sweep()
    for row in rows:
        row["params"] = {**row["params"], "out": f"outputs/{row['id']}.csv"}  # unique: no arm
    assert review_runs(frame(rows)).by == "param:lr"
    for n, row in enumerate(rows):
        row["tags"] = ["sweep", "baseline" if n < 10 else "new"]
        row["script"] = "a.py" if n < 10 else "b.py"
    by_tag = review_runs(frame(rows), by="tag")
    assert by_tag.arms == ("baseline", "new") and by_tag.baseline == "baseline"
    assert review_runs(frame(rows), by="script").arms == ("a.py", "b.py")
    with pytest.raises(ConfigError, match="no arm '7' to take as the baseline"):
        review_runs(frame(rows), baseline="7")
    with pytest.raises(ConfigError, match="no param 'momentum'"):
        review_runs(frame(rows), by="param:momentum")
    with pytest.raises(ConfigError, match="cannot make arms by 'host'"):
        review_runs(frame(rows), by="host")
    with pytest.raises(ConfigError, match="no result 'bleu'"):
        review_runs(frame(rows), metrics=["bleu"])


def test_final_metrics_count_where_results_lack_them() -> None:
    rows = [run(n, lr) for lr in ("0.01", "0.1") for n in range(3)]
    points = pl.DataFrame({"run_id": [r["id"] for r in rows for _ in range(2)],
                           "key": ["val"] * 12, "step": [0, 1] * 6,
                           "value": [v for n in range(6) for v in (9.0, float(n))]})
    review = review_runs(frame(rows), final_metrics=points, metrics=["val"])
    assert review.values["value"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_outcomes_count_what_the_sidecars_judged() -> None:
    rows = sweep()
    rows[0]["outcome"] = "regressed"
    rows[1]["outcome"] = None
    review = review_runs(frame(rows), by="param:lr")
    first = review.outcomes.filter(pl.col("arm") == "lr=0.01").rows()
    assert first == [("lr=0.01", "improved", 8, 0.8), ("lr=0.01", "none", 1, 0.1),
                     ("lr=0.01", "regressed", 1, 0.1)]


def test_a_campaign_review_reads_its_runs_from_the_catalog_after_compaction(
        catalog: bathos.Catalog, caplog: pytest.LogCaptureFixture) -> None:
    catalog.create_campaign("lr-sweep", project="demo", hypothesis="lr=0.1 lowers the loss")
    code = (Dependency("train.py", "script", "sha256:1"),)
    runs = [make_run(params={"lr": lr, "seed": str(seed)}, results={"loss": loss + seed / 100},
                     campaign_id="lr-sweep", host=Host("node1", "ana", 1), duration_s=10.0,
                     git=Git("/r", "a" * 40), dependencies=code,
                     environment=Environment(packages_fingerprint="sha256:" + "1" * 64))
            for lr, loss in (("0.01", 0.5), ("0.1", 0.4)) for seed in range(4)]
    runs[-1] = attrs.evolve(runs[-1], environment=Environment(
        packages_fingerprint="sha256:" + "2" * 64))
    write_runs(catalog, runs, hot=2)

    review = catalog.campaign("lr-sweep").review()

    assert (review.by, review.baseline) == ("param:lr", "lr=0.01")
    assert review.verdicts["kind"].to_list() == ["better"]
    (confound,) = review.anomalies.filter(pl.col("kind") == "confound").rows(named=True)
    assert confound["detail"] == ("lr=0.1 ran with 2 package sets: sha256:111111111111 (3 runs), "
                                  "sha256:222222222222 (1 run)")
    # runs made where their repository is not (another machine's): no freshness, no failure
    assert caplog.messages == ["campaign lr-sweep: its review leaves out which runs are stale: "
                               "the repository /r of project 'demo' is gone"]
    with pytest.raises(ConfigError, match="campaign empty has no runs to review yet"):
        catalog.create_campaign("empty", project="demo", hypothesis="h")
        catalog.campaign("empty").review()
