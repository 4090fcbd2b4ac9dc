"""`bth campaign review` on runs `bth run --campaign` made in a real git project: the numbers in
--json against scipy on the runs' own results, the verdict line first, a plot written."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from project import Project, make_project
from scipy import stats

import bathos

TRAIN = """\
import argparse
import random

import bth


@bth.experiment(name="train")
def main(lr: float, seed: int) -> dict[str, float]:
    noise = random.Random(seed).gauss(0, 0.01)
    return {"loss": round(1.0 - lr + noise, 6)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    main(args.lr, args.seed)
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path]:
    """A campaign of six real runs: lr 0.1 and 0.3, three seeds each (shared by this module's
    tests: they only read it)."""
    base = tmp_path_factory.mktemp("review")
    home = base / "bth-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BTH_HOME", str(home))
        patch.chdir(base)
        proj = make_project(base / "proj", {"scripts/experiments/train.py": TRAIN})
        bathos.Catalog().create_campaign("lr-sweep", project="proj", hypothesis="lr=0.3 wins")
        for seed in (1, 2, 3):
            for lr in ("0.1", "0.3"):
                proj.bth_run("--campaign", "lr-sweep", "scripts/experiments/train.py", "--",
                             "--lr", lr, "--seed", str(seed))
    return proj, home


def test_json_holds_every_number_as_scipy_computes_it(swept: tuple[Project, Path]) -> None:
    proj, home = swept
    done = proj.bth("campaign", "review", "lr-sweep", "--json", "--plot", "review.svg",
                    env={"BTH_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["campaign"], found["by"], found["baseline"]) == ("lr-sweep", "param:lr",
                                                                  "lr=0.1")
    runs = bathos.Catalog(home / "catalog").campaign("lr-sweep").runs(flatten=True).to_polars()
    x = np.array(runs.filter(runs["params.lr"] == 0.3)["results.loss"].to_list())
    y = np.array(runs.filter(runs["params.lr"] == 0.1)["results.loss"].to_list())
    (comparison,) = found["comparisons"]
    welch = stats.ttest_ind(x, y, equal_var=False)
    assert comparison["difference"] == pytest.approx(x.mean() - y.mean())
    assert comparison["ci_low"] == pytest.approx(welch.confidence_interval().low)
    assert comparison["p_welch"] == pytest.approx(welch.pvalue)
    assert comparison["p_adjusted"] == pytest.approx(welch.pvalue)  # one comparison
    means = {row["arm"]: row["mean"] for row in found["summary"]}
    assert means == {"lr=0.1": pytest.approx(y.mean()), "lr=0.3": pytest.approx(x.mean())}
    (verdict,) = found["verdicts"]
    assert verdict["kind"] == "better"
    assert found["anomalies"] == []
    assert done.stderr.strip() == "Plot written to review.svg."
    assert ET.fromstring((proj.root / "review.svg").read_bytes()).tag == (
        "{http://www.w3.org/2000/svg}svg")


def test_the_table_starts_with_the_verdict_line(swept: tuple[Project, Path]) -> None:
    proj, home = swept
    done = proj.bth("campaign", "review", "lr-sweep", "--baseline", "0.1", "--plot",
                    "review.png", env={"BTH_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("lr=0.3 beats baseline (lr=0.1) on loss: −0.2")
    assert lines[0].endswith("n = 3 vs 3")
    assert "Per arm:" in lines and "Against the baseline:" in lines
    assert (proj.root / "review.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bad_input_gets_one_line_and_exit_2(swept: tuple[Project, Path]) -> None:
    proj, home = swept
    env = {"BTH_HOME": str(home)}
    wrong_arm = proj.bth("campaign", "review", "lr-sweep", "--baseline", "0.5", env=env)
    wrong_by = proj.bth("campaign", "review", "lr-sweep", "--by", "param:momentum", env=env)
    pdf = proj.bth("campaign", "review", "lr-sweep", "--plot", "review.pdf", env=env)
    nope = proj.bth("campaign", "review", "nope", env=env)
    assert [d.returncode for d in (wrong_arm, wrong_by, pdf, nope)] == [2, 2, 2, 2]
    assert wrong_arm.stderr.strip() == ("Error: no arm '0.5' to take as the baseline (the arms "
                                        "by param:lr: lr=0.1, lr=0.3)")
    assert wrong_by.stderr.strip() == ("Error: no param 'momentum' in the campaign's runs "
                                       "(their params: lr, seed)")
    assert "review.pdf is no .png or .svg file" in pdf.stderr
    assert nope.stderr.startswith("Error: campaign nope not found")
    assert not (proj.root / "review.pdf").exists()


def test_without_matplotlib_the_plot_is_refused_in_one_line(swept: tuple[Project, Path]) -> None:
    proj, home = swept
    # the same interpreter, with matplotlib made unimportable
    hidden = ("import sys; sys.modules['matplotlib'] = None; sys.argv[0] = 'bth'; "
              "from bathos_cli.main import main; main()")
    done = proj.python("-c", hidden, "campaign", "review", "lr-sweep", "--plot", "r.png",
                       env={"BTH_HOME": str(home)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: plots need matplotlib, which is not installed (pip install 'bathos[plot]')")
    assert not (proj.root / "r.png").exists()
