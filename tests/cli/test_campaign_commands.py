"""`bth campaign …` as a user types it: real `bth` processes in a real project, checked through
the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project import Project, make_project
from records import make_run

import bathos


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"scripts/experiments/hello.py": "print('hi')\n"})


def _runs(catalog: bathos.Catalog, project: str, lrs: list[str]) -> list[bathos.Run]:
    runs = [make_run(project=project, script="scripts/experiments/train.py",
                     params={"lr": lr, "seed": "1"}, results={"loss": 0.5}) for lr in lrs]
    for run in runs:
        catalog.write(run)
    return runs


def test_create_add_show_ls_conclude_reopen(proj: Project, catalog: bathos.Catalog) -> None:
    runs = _runs(catalog, "proj", ["0.1", "0.01", "0.1"])

    made = proj.bth("campaign", "create", "lr-sweep", "--hypothesis", "lr=0.1 lowers the loss",
                    "--question", "which lr?", "--mode", "confirmation")
    assert made.returncode == 0 and "Campaign lr-sweep created (proj" in made.stderr
    added = proj.bth("campaign", "add", runs[0].id, runs[1].id[:12], "--campaign", "lr-sweep")
    assert added.returncode == 0 and "Added 2 runs" in added.stderr
    assert proj.bth("campaign", "remove", runs[1].id, "--campaign", "lr-sweep").returncode == 0
    proj.bth("campaign", "add", runs[1].id, runs[2].id, "--campaign", "lr-sweep")

    shown = proj.bth("campaign", "show", "lr-sweep")
    assert shown.returncode == 0
    assert "hypothesis: lr=0.1 lowers the loss" in shown.stdout
    header = next(line for line in shown.stdout.splitlines() if line.startswith("id "))
    assert header.split() == ["id", "script", "status", "outcome", "params.lr", "results.loss"]
    assert all(r.id[:12] in shown.stdout for r in runs)
    data = json.loads(proj.bth("campaign", "show", "lr-sweep", "--json").stdout)
    assert data["campaign"]["mode"] == "confirmation"
    assert sorted(data["campaign"]["run_ids"]) == sorted(r.id for r in runs)
    assert {r["params"]["lr"] for r in data["runs"]} == {"0.1", "0.01"}

    done = proj.bth("campaign", "conclude", "lr-sweep", "--outcome", "supported",
                    "--note", "3 of 3")
    assert done.returncode == 0 and "concluded: supported (3 runs)" in done.stderr
    listed = json.loads(proj.bth("campaign", "ls", "--json").stdout)
    assert [(c["id"], c["status"], c["outcome"], c["note"], c["n_runs"]) for c in listed] == [
        ("lr-sweep", "concluded", "supported", "3 of 3", 3)]
    table = proj.bth("campaign", "ls").stdout.splitlines()
    assert table[0].split()[:5] == ["id", "project", "status", "mode", "runs"]

    refused = proj.bth("campaign", "add", runs[0].id, "--campaign", "lr-sweep")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "Error: campaign lr-sweep is concluded: it takes no new runs until it is reopened "
        "(bth campaign reopen lr-sweep)")
    assert proj.bth("campaign", "reopen", "lr-sweep").returncode == 0
    assert catalog.campaign("lr-sweep").info.status == "open"


def test_add_where_takes_an_sql_condition_on_runs(proj: Project,
                                                  catalog: bathos.Catalog) -> None:
    fast, _ = _runs(catalog, "proj", ["0.1", "0.01"])
    _runs(catalog, "other", ["0.1"])
    catalog.create_campaign("lr-sweep", project="proj", hypothesis="h")

    done = proj.bth("campaign", "add", "--campaign", "lr-sweep", "--where",
                    "params->>'lr' = '0.1'")

    assert done.returncode == 0, done.stderr
    assert catalog.campaign("lr-sweep").info.run_ids == (fast.id,)
    wrong = proj.bth("campaign", "add", "--campaign", "lr-sweep", "--where", "nope = 1")
    assert wrong.returncode == 1 and wrong.stderr.startswith("Error: query failed")
    assert "Traceback" not in wrong.stderr
    assert catalog.campaign("lr-sweep").info.run_ids == (fast.id,)


@pytest.mark.parametrize(("args", "code", "said"), [
    (["create", "Bad Id", "--hypothesis", "h"], 2, "Error: invalid campaign id 'Bad Id'"),
    (["show", "nope"], 2, "Error: campaign nope not found in catalog"),
    (["add", "--campaign", "nope", "--where", "true"], 2, "Error: campaign nope not found"),
    (["conclude", "nope", "--outcome", "x"], 2, "Error: campaign nope not found"),
    (["add", "--campaign", "lr-sweep"], 2, "Error: name runs to add, or pick them with --where"),
    (["add", "1m8c0000000000aa", "--campaign", "lr-sweep"], 2,
     "Error: run 1m8c0000000000aa not found"),
    (["reopen", "lr-sweep"], 2, "Error: campaign lr-sweep is open already"),
])
def test_bad_input_is_one_line_and_exit_2(proj: Project, catalog: bathos.Catalog,
                                          args: list[str], code: int, said: str) -> None:
    catalog.create_campaign("lr-sweep", project="proj", hypothesis="h")

    done = proj.bth("campaign", *args)

    assert done.returncode == code
    assert said in done.stderr and "Traceback" not in done.stderr
    assert [c["id"] for c in catalog.campaigns()] == ["lr-sweep"]


def test_create_outside_a_project_needs_a_project(tmp_path: Path,
                                                  catalog: bathos.Catalog) -> None:
    outside = Project(tmp_path)
    done = outside.bth("campaign", "create", "x", "--hypothesis", "h")
    assert done.returncode == 2 and "name the campaign's project with -p" in done.stderr
    assert outside.bth("campaign", "create", "x", "--hypothesis", "h", "-p", "demo"
                       ).returncode == 0
    assert catalog.campaign("x").info.project == "demo"
