"""`bth ls/find --columns` and `--sort`: any run column or one param or result, in the table, JSON
and CSV alike, numbers sorted as numbers; an unknown column or project is bad input (exit 2), and
an empty listing says why without suggesting what does not apply."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from cli_helpers import bth_process
from records import make_run, sample_runs, write_runs

import bathos

NOW = dt.datetime.now(dt.UTC)
COLUMNS = "id,name,tags,params.lr,results.loss"


@pytest.fixture
def runs(catalog) -> list[bathos.Run]:
    """The sample runs and three runs of a sweep, newest first (the sweep's lr as text sorts
    "0.5" < "10" < "9"); the older half compacted."""
    sweep = [make_run(project="alpha", name=f"lr{lr}", started_at=NOW - dt.timedelta(seconds=i),
                      tags=("sweep",), params={"lr": lr}, results={"loss": loss})
             for i, (lr, loss) in enumerate([("10", 3), ("0.5", 1.25), ("9", 0.5)])]
    everything = sorted([*sweep, *sample_runs(NOW).values()], key=lambda r: r.started_at,
                        reverse=True)
    write_runs(catalog, everything, hot=3)
    return everything


def expected(run: bathos.Run) -> dict[str, object]:
    lr, loss = run.params.get("lr"), run.results.get("loss")
    return {"id": run.id, "name": run.name, "tags": list(run.tags),
            "params.lr": float(lr) if isinstance(lr, str) else None,
            "results.loss": float(loss) if loss is not None else None}


def listed(*args: str) -> list[dict[str, object]]:
    done = bth_process("ls", "--all-projects", "--json", *args)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found


def test_json_has_the_columns_asked_for_typed(runs) -> None:
    assert listed("--columns", COLUMNS) == [expected(r) for r in runs]


def test_csv_has_the_columns_asked_for(runs) -> None:
    done = bth_process("find", "--all-projects", "--csv", "-c", COLUMNS, "--tag", "sweep")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == COLUMNS
    assert list(csv.DictReader(io.StringIO(done.stdout))) == [
        {"id": r.id, "name": r.name, "tags": '["sweep"]', "params.lr": str(float(r.params["lr"])),
         "results.loss": str(float(r.results["loss"]))} for r in runs if "sweep" in r.tags]


def test_table_has_the_columns_asked_for(runs) -> None:
    done = bth_process("ls", "--all-projects", "-c", COLUMNS, "--tag", "sweep")

    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == COLUMNS.split(",")
    sweep = [r for r in runs if "sweep" in r.tags]
    assert [line.split() for line in lines] == [
        [r.id[:12], r.name, "sweep", str(float(r.params["lr"])), str(float(r.results["loss"]))]
        for r in sweep]


def test_sort_orders_numbers_as_numbers_before_the_limit(runs) -> None:
    with_lr = sorted((r for r in runs if "lr" in r.params), key=lambda r: float(r.params["lr"]))
    without = [r.id for r in runs if "lr" not in r.params]

    assert [r["id"] for r in listed("-c", "id", "--sort", "params.lr")] == \
        [r.id for r in with_lr] + without
    assert [r["id"] for r in listed("-c", "id", "--sort", "params.lr", "--desc", "-n", "2")] == \
        [r.id for r in reversed(with_lr)][:2]
    by_loss = listed("-c", "id,results.loss", "--sort", "results.loss", "-n", "3")
    assert [r["results.loss"] for r in by_loss] == [0.5, 1.25, 3.0]


@pytest.mark.parametrize("args", [["-c", "id,params.lrr"], ["--sort", "nosuch"]])
def test_an_unknown_column_is_bad_input_naming_the_columns_there_are(runs, args) -> None:
    done = bth_process("ls", "--all-projects", *args)

    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: no column ")
    assert "id, project, status, name" in line
    assert "params.lr, params.n_steps, results.loss)" in line


def test_an_unknown_project_is_bad_input_naming_the_known_ones(runs) -> None:
    done = bth_process("ls", "-p", "nosuch")

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("Error: no project nosuch in catalog ")
    assert "(its projects: alpha, beta)" in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "said"), [
    (["ls", "-p", "alpha", "--status", "lost"],
     "No runs in project alpha match these criteria.\n"),
    (["find", "--all-projects", "--param", "lr=7"],
     "No runs in the catalog match these criteria.\n"),
])
def test_an_empty_listing_says_so_without_a_window_that_does_not_apply(runs, args,
                                                                      said) -> None:
    done = bth_process(*args)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", said)


def test_an_empty_project_says_where_else_to_look(runs, tmp_path) -> None:
    (tmp_path / ".bth.toml").write_text('[project]\nslug = "gamma"\n')

    done = bth_process("ls", cwd=tmp_path)

    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "No runs in project gamma yet. (--all-projects looks in every project)\n"


def test_desc_without_sort_is_bad_usage(runs) -> None:
    done = bth_process("ls", "--desc")

    assert (done.returncode, done.stdout) == (2, "")
    assert "--desc reverses --sort" in done.stderr
