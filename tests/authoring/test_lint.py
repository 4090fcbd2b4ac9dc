"""`bth lint` on real projects: every naming case in every folder `bth init` makes, missing,
invalid and orphan sidecars, a stale script that ran, a run that wrote under /tmp, `--fix`,
`--json` and the exit codes; all as real `bth` processes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from project import Project, make_project
from records import make_run

from bathos import Catalog
from bathos.hashing import hash_file
from bathos.lint import NAMING, lint_project
from bathos.models import Sidecar
from bathos.projects import SCRIPT_DIRS
from bathos.scaffold import sidecar_skeleton
from bathos.sidecar import load_sidecar

SCRIPT = "print('ran')\n"
# A name that keeps its folder's rule, and names that break it, for every folder.
GOOD = {
    "experiments": "train_model.py", "benchmarks": "time_sort.py", "validation": "check_energy.py",
    "analysis": "plot_losses.py", "data": "convert_raw.py", "slurm": "train_model.slurm",
    "debug": "240131_nan_loss.py", "explore": "250102_look_around.py",
    "scratch": "250101_try_idea.py",
}
BAD = {
    "experiments": ["Train.py"], "benchmarks": ["bench.py"], "validation": ["checkEnergy.py"],
    "analysis": ["plots.py"], "data": ["Convert-Raw.py"], "slurm": ["run.slurm"],
    "debug": ["nan_loss.py", "241399_bad_date.py"], "explore": ["explore1.py"],
    "scratch": ["try.py"],
}
KINDS = {"experiments": "experiment", "benchmarks": "benchmark", "validation": "validation"}


def files() -> dict[str, str]:
    written = {}
    for folder, name in GOOD.items():
        written[f"scripts/{folder}/{name}"] = SCRIPT
        if folder in KINDS:
            written[f"scripts/{folder}/{name[:-3]}.bth.toml"] = sidecar_skeleton(KINDS[folder])
    for folder, names in BAD.items():
        written.update({f"scripts/{folder}/{name}": SCRIPT for name in names})
    written.update({
        "scripts/experiments/_helpers.py": SCRIPT,  # a helper: no name rule, no sidecar
        "scripts/experiments/notes.md": "free text\n",
        "scripts/slurm/_bth_env.sh": "# the env helper\n",
        "scripts/experiments/fit_curve.py": SCRIPT,  # no sidecar
        "scripts/experiments/broken_fit.py": SCRIPT,
        "scripts/experiments/broken_fit.bth.toml": '[experimentt]\nhypothesis = "x"\n',
        "scripts/experiments/gone_script.bth.toml": sidecar_skeleton("experiment"),
    })
    return written


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", files(), sidecars_required=True)


def found(done_stdout: str) -> set[tuple[str, str]]:
    return {(f["path"], f["rule"]) for f in json.loads(done_stdout)}


def test_every_folder_has_a_naming_rule() -> None:
    assert NAMING.keys() == SCRIPT_DIRS.keys()


def test_lint_reports_each_naming_case_and_sidecar_problem(proj: Project) -> None:
    done = proj.bth("lint", "--json")

    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    naming = {f["path"] for f in findings if f["rule"] == "naming"}
    assert naming == {f"scripts/{folder}/{name}" for folder, names in BAD.items()
                      for name in names}
    missing = {f["path"] for f in findings if f["rule"] == "sidecar-missing"}
    assert missing == {"scripts/experiments/Train.py", "scripts/benchmarks/bench.py",
                       "scripts/validation/checkEnergy.py", "scripts/experiments/fit_curve.py"}
    assert all(f["fixable"] and f["severity"] == "error" for f in findings
               if f["rule"] == "sidecar-missing")
    [invalid] = [f for f in findings if f["rule"] == "sidecar-invalid"]
    assert (invalid["path"], invalid["line"], invalid["severity"]) == (
        "scripts/experiments/broken_fit.bth.toml", 1, "error")
    assert "experimentt" in invalid["message"]
    [orphan] = [f for f in findings if f["rule"] == "sidecar-orphan"]
    assert (orphan["path"], orphan["severity"]) == (
        "scripts/experiments/gone_script.bth.toml", "warning")
    # Each skeleton sidecar is valid but says TODO: a warning, not an error.
    todo = {f["path"] for f in findings if f["rule"] == "sidecar-todo"}
    assert "scripts/experiments/train_model.bth.toml" in todo
    assert {f["severity"] for f in findings if f["rule"] == "sidecar-todo"} == {"warning"}
    assert not {p for p, _ in found(done.stdout)} & {
        f"scripts/{folder}/{name}" for folder, name in GOOD.items()}
    assert "scripts/experiments/_helpers.py" not in {p for p, _ in found(done.stdout)}


def test_lint_text_output_one_line_per_finding(proj: Project) -> None:
    done = proj.bth("lint")

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == len(json.loads(proj.bth("lint", "--json").stdout))
    assert ("scripts/debug/nan_loss.py: error naming: nan_loss.py breaks the naming rule of "
            "scripts/debug/ (YYMMDD_desc.py") in done.stdout
    assert "scripts/experiments/broken_fit.bth.toml:1: error sidecar-invalid:" in done.stdout
    assert "scripts/experiments/fit_curve.py: error sidecar-missing:" in done.stdout
    assert "[fixable: bth lint --fix]" in done.stdout
    assert "errors," in done.stderr and "warning" in done.stderr


def test_fix_scaffolds_valid_sidecars_and_leaves_the_rest(proj: Project) -> None:
    done = proj.bth("lint", "--fix", "--json")

    assert done.returncode == 1  # naming and the invalid sidecar are not mechanical
    assert "wrote scripts/experiments/fit_curve.bth.toml" in done.stderr
    rules = found(done.stdout)
    assert not {r for _, r in rules} & {"sidecar-missing"}
    for script in ("experiments/fit_curve", "benchmarks/bench", "validation/checkEnergy"):
        spec = load_sidecar(proj.root / f"scripts/{script}.bth.toml")
        assert spec.kind == KINDS[script.split("/")[0]]
        assert [o.is_residual for o in spec.outcomes] == [True]
    assert ("scripts/experiments/fit_curve.bth.toml", "sidecar-todo") in rules
    again = proj.bth("lint", "--fix")
    assert "wrote" not in again.stderr  # nothing left to fix
    # bth run takes the skeleton, and every run lands in its residual outcome.
    run = proj.bth_run("scripts/experiments/fit_curve.py")
    assert run.outcome is not None and run.outcome.label == "undecided"


def test_clean_project_exits_zero_and_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    proj = make_project(tmp_path / "clean", {"scripts/analysis/plot_losses.py": SCRIPT,
                                             "scripts/analysis/old_plot.bth.toml": "x = 1\n"},
                        sidecars_required=True)
    done = proj.bth("lint", "--json")

    assert done.returncode == 0, done.stderr
    assert found(done.stdout) == {("scripts/analysis/old_plot.bth.toml", "sidecar-orphan")}
    (proj.root / "scripts/analysis/old_plot.bth.toml").unlink()
    assert proj.bth("lint").returncode == 0
    assert proj.bth("lint").stdout == ""


def test_stale_script_that_ran_under_its_stale_sidecar(tmp_path: Path) -> None:
    stale = sidecar_skeleton("experiment") + "\n[status]\nstale = true\n"
    proj = make_project(tmp_path / "proj", sidecars_required=True, files={
        "scripts/experiments/old_method.py": SCRIPT,
        "scripts/experiments/old_method.bth.toml": stale,
        "scripts/experiments/new_method.py": SCRIPT,
        "scripts/experiments/new_method.bth.toml": sidecar_skeleton("experiment"),
    })
    assert ("scripts/experiments/old_method.py", "stale-ran") not in found(
        proj.bth("lint", "--json").stdout)
    # A run ten days ago under the same sidecar is outside the window; so is one that ran under
    # an earlier sidecar.
    sidecar = proj.root / "scripts/experiments/old_method.bth.toml"
    sha256 = hash_file(sidecar).sha256
    slug = lint_project(proj.root).root.name
    Catalog().write(make_run(project=slug, script="scripts/experiments/old_method.py",
                             started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
                             sidecar=Sidecar("scripts/experiments/old_method.bth.toml", sha256)))
    Catalog().write(make_run(project=slug, script="scripts/experiments/old_method.py",
                             sidecar=Sidecar("scripts/experiments/old_method.bth.toml",
                                             "sha256:" + "0" * 64)))
    assert ("scripts/experiments/old_method.py", "stale-ran") not in found(
        proj.bth("lint", "--json").stdout)

    run = proj.bth_run("--no-sidecar", "scripts/experiments/old_method.py")
    proj.bth_run("--no-sidecar", "scripts/experiments/new_method.py")
    done = proj.bth("lint", "--json")

    [finding] = [f for f in json.loads(done.stdout) if f["rule"] == "stale-ran"]
    assert finding["path"] == "scripts/experiments/old_method.py"
    assert finding["severity"] == "warning" and run.id[:8] in finding["message"]
    assert done.returncode == 0  # the sidecar-todo warnings and this one: no error


def test_run_that_wrote_under_tmp(tmp_path: Path) -> None:
    proj = make_project(tmp_path / "proj", {"scripts/analysis/write_report.py": (
        "import sys\nopen(sys.argv[2], 'w').write('report')\n")}, sidecars_required=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = proj.bth_run("scripts/analysis/write_report.py", "--out", str(elsewhere / "r.txt"))
    proj.bth_run("scripts/analysis/write_report.py", "--out", "outputs/r.txt")

    done = proj.bth("lint", "--json")

    assert done.returncode == 0, done.stderr
    [finding] = [f for f in json.loads(done.stdout) if f["rule"] == "tmp-output"]
    assert finding["path"] == "scripts/analysis/write_report.py"
    assert run.id[:8] in finding["message"] and str(elsewhere / "r.txt") in finding["message"]


def test_project_root_and_bad_usage(proj: Project, tmp_path: Path) -> None:
    outside = tmp_path / "nowhere"
    outside.mkdir()
    from_elsewhere = proj.bth("lint", "--json", "--project-root", str(proj.root), cwd=outside)
    assert from_elsewhere.returncode == 1
    assert from_elsewhere.stdout == proj.bth("lint", "--json").stdout

    not_a_project = proj.bth("lint", cwd=outside)
    assert not_a_project.returncode == 2
    assert not_a_project.stderr.count("\n") == 1 and "not inside a bathos project" in (
        not_a_project.stderr)
    given = proj.bth("lint", "--project-root", str(outside))
    assert given.returncode == 2 and "has no .bth.toml" in given.stderr
    assert proj.bth("lint", "--bogus").returncode == 2


def test_folders_that_need_a_sidecar_follow_the_project_config(tmp_path: Path) -> None:
    proj = make_project(tmp_path / "proj", sidecars_required=True, files={
        "scripts/experiments/train_model.py": SCRIPT,
        "scripts/analysis/plot_losses.py": SCRIPT,
        "pipelines/clean_data.py": SCRIPT,
    })
    config = proj.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[sidecar]\nrequired = ["scripts/analysis", '
                      '"pipelines"]\n')

    done = proj.bth("lint", "--fix", "--json")

    assert "wrote scripts/analysis/plot_losses.bth.toml" in done.stderr
    assert "wrote pipelines/clean_data.bth.toml" in done.stderr
    assert not (proj.root / "scripts/experiments/train_model.bth.toml").exists()
    assert load_sidecar(proj.root / "pipelines/clean_data.bth.toml").kind == "experiment"
    assert done.returncode == 0
