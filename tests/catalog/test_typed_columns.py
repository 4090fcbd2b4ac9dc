"""Params and results as typed columns: Structs (or one column per key) in frames, numbers that
sort as numbers, mixed types kept as text; the same whether DuckDB or the kept rows answer."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from records import make_run, sample_runs, write_runs

import bathos
from bathos import RunQuery
from bathos.errors import ConfigError
from bathos.projects import register

NOW = dt.datetime.now(dt.UTC)
# Param texts whose order as text is not their order as numbers ("0.5" < "10" < "2e-1" < "9").
LRS = ["10", "9", "0.5", "2e-1", None]


@pytest.fixture
def sweep(catalog) -> list[bathos.Run]:
    """Five runs of project `sweep`, newest first: the first three compacted, two hot."""
    runs = [
        make_run(
            project="sweep", script="train.py", started_at=NOW - dt.timedelta(minutes=i),
            params={k: v for k, v in {"lr": LRS[i], "n_steps": str(100 * (i + 1)),
                                      "model": ("mlp", "7")[i % 2],
                                      "cuda": ("true", "False")[i % 2]}.items() if v},
            results={"loss": [0.5, 2, 0.25, 1.5, 3.0][i], "note": ["ok", 1, "ok", "ok", "ok"][i],
                     "curve": [i, i + 1], "eval": {"acc": i / 10, "split": "val"},
                     "best": i % 2 == 0},
        )
        for i in range(5)
    ]
    write_runs(catalog, runs, hot=2)
    return runs


def test_params_and_results_are_structs_typed_by_key(sweep, catalog) -> None:
    frame = catalog.runs(project="sweep").to_polars()

    assert frame.schema["params"] == pl.Struct(
        {"cuda": pl.Boolean, "lr": pl.Float64, "model": pl.String, "n_steps": pl.Int64})
    assert frame.schema["results"] == pl.Struct({
        "best": pl.Boolean, "curve": pl.String,
        "eval": pl.Struct({"acc": pl.Float64, "split": pl.String}), "loss": pl.Float64,
        "note": pl.String})
    assert frame["params"].to_list() == [
        {"cuda": r.params["cuda"].lower() == "true",
         "lr": float(r.params["lr"]) if "lr" in r.params else None,
         "model": r.params["model"], "n_steps": int(r.params["n_steps"])} for r in sweep]
    assert frame["results"].to_list() == [
        {**r.results, "loss": float(r.results["loss"]), "note": str(r.results["note"]),
         "curve": json.dumps(r.results["curve"], separators=(",", ":"))} for r in sweep]
    assert frame["tags"].dtype == pl.List(pl.String)


def test_flatten_gives_one_column_per_key_that_sorts_as_numbers(sweep, catalog) -> None:
    frame = catalog.runs(project="sweep", flatten=True).to_polars()

    keys = [c for c in frame.columns if "." in c]
    assert keys == ["params.cuda", "params.lr", "params.model", "params.n_steps", "results.best",
                    "results.curve", "results.eval", "results.loss", "results.note"]
    assert "params" not in frame.columns and "results" not in frame.columns
    assert frame.schema["params.lr"] == pl.Float64
    assert frame.schema["results.eval"] == pl.Struct({"acc": pl.Float64, "split": pl.String})
    by_lr = sorted((r for r in sweep if "lr" in r.params), key=lambda r: float(r.params["lr"]))
    assert frame.sort("params.lr", nulls_last=True)["id"].to_list() == \
        [r.id for r in by_lr] + [sweep[4].id]
    assert frame["results.note"].to_list() == ["ok", "1", "ok", "ok", "ok"]


def test_kept_rows_and_duckdb_give_the_same_typed_frames(sweep, catalog) -> None:
    fast, slow = RunQuery(project="sweep"), RunQuery(project="sweep", script="train.py")
    for flatten in (False, True):
        assert_frame_equal(catalog.runs(fast, flatten=flatten).to_polars(),
                           catalog.runs(slow, flatten=flatten).to_polars())
        assert catalog.runs(fast, flatten=flatten).to_dicts() == \
            catalog.runs(slow, flatten=flatten).to_dicts()


def test_dicts_keep_params_as_recorded_and_flattened_ones_typed(sweep, catalog) -> None:
    [newest, *_] = catalog.runs(project="sweep")
    assert newest["params"] == {"lr": "10", "n_steps": "100", "model": "mlp", "cuda": "true"}
    assert newest["results"] == sweep[0].results

    [flat, *_] = catalog.runs(project="sweep", flatten=True)
    assert (flat["params.lr"], flat["params.n_steps"], flat["params.model"]) == (10.0, 100, "mlp")
    assert (flat["results.curve"], flat["results.eval"]) == ([0, 1], {"acc": 0.0, "split": "val"})


def test_select_and_sorted_by_name_keys(sweep, catalog) -> None:
    rows = catalog.runs(project="sweep")

    picked = rows.sorted_by("params.n_steps", descending=True, limit=3).select(
        ["id", "params.n_steps", "tags"])
    assert picked.columns == ("id", "params.n_steps", "tags")
    assert picked.to_dicts() == [{"id": r.id, "params.n_steps": int(r.params["n_steps"]),
                                  "tags": []} for r in reversed(sweep[2:])]
    last = rows.sorted_by("params.lr").select(["id"]).to_dicts()[-1]
    assert last == {"id": sweep[4].id}  # no lr: last
    with pytest.raises(ConfigError, match=r"no column 'params\.lrr'.*params\.lr, params\.model"):
        rows.select(["id", "params.lrr"])


def test_a_key_no_row_has_is_an_empty_column_when_there_are_no_rows(sweep, catalog) -> None:
    empty = catalog.runs(project="sweep", status="lost").select(["id", "params.lr"])
    assert (len(empty), empty.columns) == (0, ("id", "params.lr"))


def test_mixed_param_values_stay_text(catalog) -> None:
    for lr in ("0.1", "auto"):
        catalog.write(make_run(params={"lr": lr}))
    frame = catalog.runs(flatten=True).to_polars()
    assert frame.schema["params.lr"] == pl.String
    assert sorted(frame["params.lr"].to_list()) == ["0.1", "auto"]


def test_an_unknown_project_is_a_config_error_naming_the_known_ones(catalog, tmp_path) -> None:
    for run in sample_runs(NOW).values():
        catalog.write(run)

    with pytest.raises(ConfigError, match=r"no project nosuch in catalog .*alpha, beta") as caught:
        catalog.runs(project="nosuch")
    assert "bth ls" not in str(caught.value)  # the command line is in the hint
    assert catalog.runs(project="alpha", status="lost").to_dicts() == []  # known, none match
    register("fresh", tmp_path)  # a registered project with no runs yet
    assert catalog.runs(project="fresh").to_dicts() == []
