"""Params read from the command lines real scripts are given, and found again by value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import make_repo
from project import Project, init_test_project

from bathos import Catalog

SCRIPT = "scripts/experiments/hello.py"
HELLO = "print('hello')\n"
ARGVS = {
    "sim": ["-N", "40", "-S", "0.04", "-seed", "7"],
    "hydra": ["lr=0.1", "+model.depth=3", "model.dropout=0.5", "~model.dropout"],
    "flags": ["--lr", "0.02", "--tag", "a", "--tag", "b", "--no-cuda", "--verbose"],
    "negative": ["--lr", "-0.1", "--shift=-3", "-v", "data.csv"],
}

Made = tuple[Path, Project, dict[str, str]]  # BTH_HOME, the project, run ids by ARGVS name


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A project with a run for each argv shape; the first two compacted, the rest hot."""
    home = tmp_path_factory.mktemp("params") / "bth-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BTH_HOME", str(home))
        project = Project(make_repo(home.parent / "proj"))
        project.write(SCRIPT, HELLO)
        init_test_project(project.root)
        project.commit("initial")
        ids = {}
        for name, argv in ARGVS.items():
            ids[name] = project.bth_run(SCRIPT, "--", *argv).id
            if name == "hydra":
                assert project.bth("compact").returncode == 0
    return home, project, ids


@pytest.fixture
def runs(made: Made, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home, _, ids = made
    monkeypatch.setenv("BTH_HOME", str(home))
    return ids


def test_every_argv_shape_is_recorded_as_given(runs: dict[str, str]) -> None:
    catalog = Catalog()

    assert catalog.get(runs["sim"]).params == {"N": "40", "S": "0.04", "seed": "7"}
    assert catalog.get(runs["hydra"]).params == {"lr": "0.1", "model.depth": "3"}
    assert catalog.get(runs["flags"]).params == {"lr": "0.02", "tag": ["a", "b"],
                                                 "cuda": "false", "verbose": "true"}
    assert catalog.get(runs["negative"]).params == {"lr": "-0.1", "shift": "-3", "v": "data.csv"}


@pytest.mark.parametrize(("param", "expected"), [
    ("seed=7", ["sim"]),
    ("seed=07", ["sim"]),
    ("S=0.040", ["sim"]),
    ("N=40.0", ["sim"]),
    ("lr=0.10", ["hydra"]),
    ("model.depth=3", ["hydra"]),
    ("model.dropout=0.5", []),
    ("lr=0.020", ["flags"]),
    ("lr=2e-2", ["flags"]),
    ("lr=0.2", []),
    ("tag=b", ["flags"]),
    ("tag=c", []),
    ("cuda=false", ["flags"]),
    ("verbose=True", ["flags"]),
    ("lr=-0.10", ["negative"]),
    ("shift=-3", ["negative"]),
    ("v=data.csv", ["negative"]),
])
def test_params_match_by_value(runs: dict[str, str], param: str, expected: list[str]) -> None:
    key, _, value = param.partition("=")
    found = Catalog().runs(params={key: value}, all_projects=True)

    assert [row["id"] for row in found] == [runs[name] for name in expected]


@pytest.mark.parametrize(("args", "expected"), [
    (["--param", "lr=0.020"], ["flags"]),
    (["--param", "rangeTo=3"], []),
    (["--param", "seed=7", "--param", "S=0.040"], ["sim"]),
    (["--param", "lr=0.1"], ["hydra"]),
])
def test_bth_find_param(made: Made, runs: dict[str, str], args: list[str],
                        expected: list[str]) -> None:
    done = made[1].bth("find", "--json", *args)

    assert done.returncode == 0, done.stderr
    assert [row["id"] for row in json.loads(done.stdout)] == [runs[name] for name in expected]


def test_a_single_dash_long_option_of_a_research_script(project: Project) -> None:
    run = project.bth_run(SCRIPT, "--", "-rangeFrom", "0", "-rangeTo", "3", "-out", "frames")

    assert run.params == {"rangeFrom": "0", "rangeTo": "3", "out": "frames"}
    done = project.bth("find", "--json", "--param", "rangeTo=3.0")
    assert [row["id"] for row in json.loads(done.stdout)] == [run.id]


def test_secrets_in_every_shape_stay_out_of_argv_and_params(project: Project) -> None:
    run = project.bth_run(SCRIPT, "--", "-api-key", "hunter2hunter2", "db.password=s3cretpass",
                          "-seed", "7")

    assert run.argv == ("-api-key", "<redacted>", "db.password=<redacted>", "-seed", "7")
    assert run.params == {"api_key": "<redacted>", "db.password": "<redacted>", "seed": "7"}
