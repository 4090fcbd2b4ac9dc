"""`bth run` records the files a Python script was seen to read and write, named in its arguments
or not, and the parameters its parser parsed; the project's own code is importable."""

from __future__ import annotations

import hashlib
from pathlib import Path

from project import Project

from bathos.models import Run
from bathos.provenance.observation import parse_report

PNG = "b'\\x89PNG\\r\\n\\x1a\\n' + bytes(range(64))"


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def inputs(run: Run) -> dict[str, str | None]:
    return {d.path: d.sha256 for d in run.dependencies if d.role == "input"}


def outputs(run: Run) -> dict[str, tuple[int | None, str | None]]:
    return {o.path: (o.size, o.sha256) for o in run.outputs}


def produced(project: Project, *relpaths: str) -> dict[str, tuple[int, str]]:
    """What `outputs` should say of files the run wrote."""
    files = {relpath: project.root / relpath for relpath in relpaths}
    return {relpath: (path.stat().st_size, sha256(path)) for relpath, path in files.items()}


SIMULATION = {
    "run.py": "import csv\nimport model\nimport plotting\n\n"
              "with open('data/x.csv') as fh:\n    rows = list(csv.DictReader(fh))\n"
              "with open('results.csv', 'w') as fh:\n"
              "    fh.write(f'n,mean\\n{len(rows)},{model.mean(rows)}\\n')\n"
              "plotting.save('plot.png')\n",
    "model.py": "def mean(rows):\n    return sum(float(r['x']) for r in rows) / len(rows)\n",
    "plotting.py": f"def save(path):\n    with open(path, 'wb') as fh:\n        fh.write({PNG})\n",
    "data/x.csv": "x\n1\n2\n4\n",
}


def test_the_simulation_shape_records_its_input_and_outputs_without_flags(
    project: Project,
) -> None:
    for relpath, text in SIMULATION.items():
        project.write(relpath, text)
    project.write(".gitignore", "results.csv\nplot.png\n")
    project.commit("simulation")

    run = project.bth_run("run.py")

    assert outputs(run) == produced(project, "results.csv", "plot.png")
    assert inputs(run) == {"data/x.csv": sha256(project.root / "data/x.csv")}
    assert sorted(d.path for d in run.dependencies if d.role == "module") == [
        "model.py", "plotting.py"]
    check = project.bth("check", "results.csv")
    assert check.returncode == 0, check.stderr
    assert run.id[:12] in check.stdout and "run.py" in check.stdout


def test_files_written_after_a_chdir_and_outside_the_project_are_recorded(
    project: Project, tmp_path: Path,
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "raw.csv").write_text("1,2\n")
    project.write("scripts/experiments/frames.py",
                  "import os, sys\n"
                  f"raw = open({str(scratch / 'raw.csv')!r}).read()\n"
                  "os.makedirs('out', exist_ok=True)\nos.chdir('out')\n"
                  "for i in range(3):\n    open(f'frame{i}.txt', 'w').write(raw * i)\n"
                  f"open({str(scratch / 'big.dat')!r}, 'w').write('big')\n")
    project.commit("frames")

    run = project.bth_run("scripts/experiments/frames.py")

    frames = [f"out/frame{i}.txt" for i in range(3)]
    assert outputs(run) == {**produced(project, *frames),
                            str(scratch / "big.dat"): (3, sha256(scratch / "big.dat"))}
    assert inputs(run) == {str(scratch / "raw.csv"): sha256(scratch / "raw.csv")}


def test_temporary_renamed_deleted_and_excluded_files(project: Project) -> None:
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[capture]\nexclude = ["*.log", "cache/*"]\n')
    project.write("scripts/experiments/tidy.py",
                  "import os, shutil, tempfile\n"
                  "open('model.tmp', 'w').write('weights')\nos.replace('model.tmp', 'model.bin')\n"
                  "open('scratch.txt', 'w').write('x')\nos.remove('scratch.txt')\n"
                  "with tempfile.NamedTemporaryFile('w') as fh:\n    fh.write('gone')\n"
                  "open('run.log', 'w').write('log')\n"
                  "os.makedirs('cache', exist_ok=True)\nopen('cache/a.npy', 'w').write('c')\n"
                  "shutil.copyfile('model.bin', 'copy.bin')\n"
                  "open('copy.bin').read()\n")
    project.commit("tidy")

    run = project.bth_run("scripts/experiments/tidy.py")

    assert outputs(run) == produced(project, "model.bin", "copy.bin")
    assert inputs(run) == {}


ARGPARSE = """\
import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("data/points.csv"))
parser.add_argument("--mesh", default="data/mesh.h5")  # read by C code: never opened in Python
parser.add_argument("-n", "--n-steps", type=int, default=10)
parser.add_argument("--lr", type=float, default=0.5)
parser.add_argument("--layers", type=int, nargs="+", default=[64, 128])
parser.add_argument("--cuda", action="store_true")
parser.set_defaults(handler=print)
args = parser.parse_args()
print(len(args.data.read_text().splitlines()), args.n_steps)
"""


def test_argparse_values_are_recorded_as_parsed_and_default_paths_as_inputs(
    project: Project,
) -> None:
    project.write("scripts/experiments/fit.py", ARGPARSE)
    project.write("data/points.csv", "x\n1\n2\n")
    project.write("data/mesh.h5", "HDF")
    project.commit("fit")

    run = project.bth_run("scripts/experiments/fit.py", "--", "-n", "5", "--lr=0.10")

    assert project.bth("logs", run.id).stdout == "3 5\n"
    assert run.params.items() >= {"data": "data/points.csv", "mesh": "data/mesh.h5",
                                  "n_steps": "5", "lr": "0.1", "layers": ["64", "128"],
                                  "cuda": "false"}.items()
    assert "handler" not in run.params
    assert inputs(run) == {p: sha256(project.root / p)
                           for p in ("data/points.csv", "data/mesh.h5")}


TYPER = """\
from pathlib import Path

import typer


def main(data: Path = Path("data/train.csv"), seed: int = 7, out: Path = Path("model.txt")):
    out.write_text(str(len(data.read_text())) + str(seed))


if __name__ == "__main__":
    typer.run(main)
"""


def test_typer_parameters_are_recorded_as_parsed(project: Project) -> None:
    project.write("scripts/experiments/train.py", TYPER)
    project.write("data/train.csv", "abc")
    project.commit("train")

    run = project.bth_run("scripts/experiments/train.py", "--", "--seed", "3")

    assert run.params.items() >= {"data": "data/train.csv", "seed": "3",
                                  "out": "model.txt"}.items()
    assert inputs(run) == {"data/train.csv": sha256(project.root / "data/train.csv")}
    assert outputs(run) == produced(project, "model.txt")


USES_PACKAGE = """\
from mypkg.core import answer

print(answer())
"""


def test_a_script_under_scripts_imports_the_project_s_package(project: Project) -> None:
    project.write("scripts/experiments/use_pkg.py", USES_PACKAGE)
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/core.py", "def answer():\n    return 42\n")
    project.commit("package")

    run = project.bth_run("scripts/experiments/use_pkg.py")

    assert project.bth("logs", run.id).stdout == "42\n"
    assert sorted(d.path for d in run.dependencies if d.role == "module") == [
        "mypkg/__init__.py", "mypkg/core.py"]
    assert inputs(run) == {}
    direct = project.python("scripts/experiments/use_pkg.py")
    assert direct.returncode == 1 and "ModuleNotFoundError" in direct.stderr


def test_run_pythonpath_replaces_the_project_root(project: Project) -> None:
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[run]\npythonpath = ["src"]\n')
    project.write("scripts/experiments/use_pkg.py", USES_PACKAGE)
    project.write("src/mypkg/__init__.py", "")
    project.write("src/mypkg/core.py", "def answer():\n    return 'from src'\n")
    project.write("mypkg/core.py", "raise SystemExit('the root is not on sys.path')\n")
    project.commit("src layout")

    run = project.bth_run("scripts/experiments/use_pkg.py")

    assert project.bth("logs", run.id).stdout == "from src\n"


def test_a_report_is_untrusted_input() -> None:
    read, written, both, moved = (chr(48 + bits) for bits in (1, 2, 3, 8))
    observed = parse_report([
        "x\t/usr/lib", "@\t/work", f"#\t{read}{written}{both}~{moved}",
        "data/x.csv", "/out/./y.csv", "/usr/lib/python3/os.py", "/bad/code", '"/tmp/new\\nline"',
        '=\t{"lr": 0.1}', "=\tnot json", "=\t[1]", "w\t/old/format", "@\tnot-absolute",
        f"#\t{read}", "lost.csv", "@\t/work", f"#\t{read}{read}", "/short.csv",
    ])

    assert observed.modes == {"/work/data/x.csv": "r", "/out/y.csv": "w", "/tmp/new\nline": "m",
                              "/short.csv": "r"}
    assert observed.params == {"lr": 0.1}
