"""`bth run` records the files a run depended on and produced, and the results it reported."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from project import Project

from bathos.models import Run


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def deps(run: Run, role: str) -> dict[str, str | None]:
    return {d.path: d.sha256 for d in run.dependencies if d.role == role}


def outputs(run: Run) -> dict[str, tuple[int | None, str | None]]:
    return {o.path: (o.size, o.sha256) for o in run.outputs}


TRAIN = """\
import json
from mypkg import models
try:
    import not_a_module_xyz  # does not exist anywhere
except ImportError:
    pass
print(models.describe())
"""
PACKAGE = {
    "mypkg/__init__.py": "",
    "mypkg/models.py": "from . import utils\nfrom .utils import helper\n\n"
                       "def describe():\n    return helper()\n",
    "mypkg/utils.py": "import os\n\ndef helper():\n    return 'model ok'\n",
    "mypkg/unused.py": "X = 1\n",
}


def test_local_package_imports_are_recorded_with_hashes(project: Project) -> None:
    project.write("scripts/experiments/train.py", TRAIN)
    for relpath, text in PACKAGE.items():
        project.write(relpath, text)
    project.commit("package")

    run = project.bth_run("scripts/experiments/train.py",
                          env={"PYTHONPATH": str(project.root)})

    assert project.bth("logs", run.id).stdout == "model ok\n"
    assert deps(run, "script") == {
        "scripts/experiments/train.py": sha256(project.root / "scripts/experiments/train.py")}
    assert deps(run, "module") == {
        path: sha256(project.root / path)
        for path in ("mypkg/__init__.py", "mypkg/models.py", "mypkg/utils.py")
    }


def test_outside_git_local_modules_are_recorded_relative_to_the_project(
    plain_project: Project,
) -> None:
    plain_project.write("scripts/experiments/train.py", TRAIN)
    for relpath, text in PACKAGE.items():
        plain_project.write(relpath, text)

    run = plain_project.bth_run("scripts/experiments/train.py",
                                env={"PYTHONPATH": str(plain_project.root)})

    assert sorted(d.path for d in run.dependencies) == [
        "mypkg/__init__.py", "mypkg/models.py", "mypkg/utils.py", "scripts/experiments/train.py"]


CONVERT = """\
import argparse
from pathlib import Path
parser = argparse.ArgumentParser()
parser.add_argument("--n-steps", type=int)
parser.add_argument("--data")
parser.add_argument("--out")
parser.add_argument("--extra")
args = parser.parse_args()
rows = "".join(Path(p).read_text() for p in (args.data, args.extra) if p)
if args.out:
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(f"steps={args.n_steps}\\n{rows}")
"""


def test_quick_start_output_and_param_search(project: Project) -> None:
    project.write("scripts/experiments/x.py", CONVERT)
    project.commit("x")

    done = project.bth("run", "scripts/experiments/x.py", "--",
                       "--n-steps", "1000", "--out", "outputs/run1.parquet")
    assert done.returncode == 0, done.stderr
    run = done.run()
    other = project.bth_run("scripts/experiments/x.py", "--", "--n-steps", "5")

    written = project.root / "outputs" / "run1.parquet"
    assert outputs(run) == {"outputs/run1.parquet": (written.stat().st_size, sha256(written))}
    assert run.params == {"n_steps": "1000", "out": "outputs/run1.parquet"}
    assert run.argv == ("--n-steps", "1000", "--out", "outputs/run1.parquet")
    found = project.bth("find", "--param", "n_steps=1000", "--json")
    assert found.returncode == 0, found.stderr
    assert [r["id"] for r in json.loads(found.stdout)] == [run.id]
    assert other.id != run.id


def test_an_existing_file_named_in_the_arguments_is_an_input(project: Project, tmp_path: Path,
                                                             ) -> None:
    project.write("scripts/experiments/x.py", CONVERT)
    data = project.write("data/in.csv", "a,b\n1,2\n")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("c\n3\n")
    project.commit("x and data")

    run = project.bth_run("scripts/experiments/x.py", "--", "--data", "data/in.csv",
                          "--out", "outputs/converted.csv", f"--extra={outside}")

    assert deps(run, "input") == {"data/in.csv": sha256(data), str(outside): sha256(outside)}
    assert list(outputs(run)) == ["outputs/converted.csv"]


WRITER = """\
import os
from pathlib import Path
Path("reports").mkdir(exist_ok=True)
Path("reports/summary.txt").write_text("not named in the arguments\\n")
out = Path(os.environ["BTH_OUTPUT_DIR"])
(out / "metrics.csv").write_text("step,loss\\n1,0.5\\n")
(out / "plots").mkdir()
(out / "plots" / "loss.txt").write_text("a plot\\n")
"""


def test_out_flag_and_files_under_the_output_dir(project: Project) -> None:
    project.write("scripts/experiments/writer.py", WRITER)
    project.commit("writer")

    run = project.bth_run("--out", "reports/summary.txt", "scripts/experiments/writer.py")

    out_dir = project.root / "outputs" / run.id
    assert (out_dir / "metrics.csv").read_text() == "step,loss\n1,0.5\n"
    assert outputs(run) == {
        path: ((project.root / path).stat().st_size, sha256(project.root / path))
        for path in ("reports/summary.txt", f"outputs/{run.id}/metrics.csv",
                     f"outputs/{run.id}/plots/loss.txt")
    }


def test_bth_log_results_are_stored_and_queryable(project: Project) -> None:
    project.write("scripts/experiments/fit.py",
                  "import bth\nbth.log(loss=0.25, epochs=3)\nbth.log(accuracy=0.9)\n")
    project.commit("fit")

    run = project.bth_run("scripts/experiments/fit.py")

    assert run.results == {"loss": 0.25, "epochs": 3, "accuracy": 0.9}
    done = project.bth("sql", "SELECT results->>'loss' AS loss FROM runs", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"loss": "0.25"}]


def test_json_written_to_the_results_path_is_stored(project: Project, bth_home: Path) -> None:
    project.write("scripts/experiments/fit.py",
                  "import json, os\n"
                  "with open(os.environ['BTH_RESULTS_PATH'], 'w') as fh:\n"
                  "    json.dump({'loss': 0.5, 'curve': [1, 2]}, fh, indent=2)\n")
    project.commit("fit")

    run = project.bth_run("scripts/experiments/fit.py")

    assert run.results == {"loss": 0.5, "curve": [1, 2]}
    assert not (bth_home / "tmp" / run.id).exists()
